"""Export and import of a namespace as JSONL (the format of `mindpilot memory export`).

Import is all or nothing (the store checks every line before writing any). Its size is bounded
by the server's request body limit (limits.py: 413 before the body is read whole).
"""

from __future__ import annotations

import io

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from mindpilot.errors import ValidationError
from mindpilot.server.errors import error_docs
from mindpilot.server.memory_schemas import ACTOR, ImportedOut, Namespace, State

JSONL = "application/x-ndjson"
_TEXT_BODY = {"schema": {"type": "string", "description": "One JSON object per line."}}

router = APIRouter()


@router.get(
    "/export",
    response_class=Response,
    responses={200: {"content": {JSONL: _TEXT_BODY}, "description": "The namespace as JSONL."}},
)
def export(namespace: Namespace, state: State) -> Response:
    """The namespace's task profiles and records (superseded ones too), one JSON object per
    line, oldest first; the header X-Mindpilot-Lines counts them. `POST /v1/memory/import`
    reads it back, into this namespace or another."""
    buffer = io.StringIO()
    lines = state.store.export_jsonl(namespace, buffer)
    headers = {
        "Content-Disposition": 'attachment; filename="mindpilot-export.jsonl"',
        "X-Mindpilot-Lines": str(lines),
    }
    return Response(buffer.getvalue(), media_type=JSONL, headers=headers)


@router.post(
    "/import",
    response_model=ImportedOut,
    status_code=201,
    responses=error_docs(409),
    openapi_extra={
        "requestBody": {"required": True, "content": {JSONL: _TEXT_BODY, "text/plain": _TEXT_BODY}}
    },
)
async def import_(request: Request, namespace: Namespace, state: State) -> ImportedOut:
    """Read a JSONL export (the body, UTF-8) into the caller's namespace, all lines or none:
    an empty body or a bad line answers 422 (naming the line), an id or task already present
    409, a body over the server's request limit 413; nothing is written then. Ids, versions
    and timestamps are kept; `POST /v1/memory/undo` removes the whole import."""
    text = _utf8(await request.body())
    if not text.strip():
        raise ValidationError(
            "the import body is empty: nothing to import",
            hint="send the JSONL written by GET /v1/memory/export",
        )
    count = await run_in_threadpool(
        state.store.import_jsonl, namespace, io.StringIO(text), actor=ACTOR
    )
    return ImportedOut(imported=count)


def _utf8(body: bytes) -> str:
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as err:
        raise ValidationError(
            f"the import body is not UTF-8 text (byte {err.start})",
            hint="send the JSONL file as written by GET /v1/memory/export",
        ) from None
