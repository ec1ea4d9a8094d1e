"""Export and import of a namespace as JSONL (the format of `mindpilot memory export`), and
documents uploaded one file at a time to be ingested as knowledge (`mindpilot memory ingest`).

Import is all or nothing (the store checks every line before writing any). Its size is bounded
by the server's request body limit (limits.py: 413 before the body is read whole).
"""

from __future__ import annotations

import dataclasses
import io
import tempfile
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from mindpilot.errors import ValidationError
from mindpilot.mental_process.conversation import ingest_records
from mindpilot.mental_process.records import Knowledge, Record
from mindpilot.server.deps import ServerState
from mindpilot.server.errors import error_docs
from mindpilot.server.memory_schemas import (
    ACTOR,
    NAME_CHARS,
    ImportedOut,
    IngestedOut,
    Namespace,
    State,
)

# What `mindpilot memory ingest` reads: documents, and chat transcripts.
INGEST_SUFFIXES = (".md", ".markdown", ".txt", ".jsonl", ".json")
# Bodies any web page can POST across sites without a CORS preflight. With `serve --open` on
# loopback a page the user visits elsewhere could otherwise write into the store; refusing
# these types makes such a request need the server's leave, which it never gives.
CROSS_SITE_TYPES = ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data")
UPLOAD_TYPE = "application/octet-stream"

JSONL = "application/x-ndjson"
_TEXT_BODY = {"schema": {"type": "string", "description": "One JSON object per line."}}
_FILE_BODY = {"schema": {"type": "string", "format": "binary", "description": "The file, UTF-8."}}

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
    openapi_extra={"requestBody": {"required": True, "content": {JSONL: _TEXT_BODY}}},
)
async def import_(request: Request, namespace: Namespace, state: State) -> ImportedOut:
    """Read a JSONL export (the body, UTF-8) into the caller's namespace, all lines or none:
    an empty body or a bad line answers 422 (naming the line), an id or task already present
    409, a body over the server's request limit 413; nothing is written then. Ids, versions
    and timestamps are kept; `POST /v1/memory/undo` removes the whole import. The body is
    sent as `Content-Type: application/x-ndjson` (types a form or a script on another site
    could send without asking are refused: a page must not write into an open-mode server)."""
    _check_upload_type(request, JSONL)
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


def _utf8(
    body: bytes,
    what: str = "the import body",
    hint: str = "send the JSONL file as written by GET /v1/memory/export",
) -> str:
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as err:
        raise ValidationError(f"{what} is not UTF-8 text (byte {err.start})", hint=hint) from None


@router.post(
    "/ingest",
    response_model=IngestedOut,
    status_code=201,
    openapi_extra={"requestBody": {"required": True, "content": {UPLOAD_TYPE: _FILE_BODY}}},
)
async def ingest(
    request: Request,
    namespace: Namespace,
    state: State,
    domain: Annotated[str, Query(min_length=1, max_length=NAME_CHARS)],
    filename: Annotated[str, Query(min_length=1, max_length=255, description="e.g. faq.md")],
) -> IngestedOut:
    """Ingest one uploaded file (the body, UTF-8) as knowledge of `domain`, as `mindpilot
    memory ingest FILE` does: a .md/.txt document in chunks, a .jsonl/.json chat transcript
    in windows of turns. Every chunk is checked before any is written; `source` is the file
    name. The body is sent as `Content-Type: application/octet-stream` (types a form on
    another site could send are refused). `POST /v1/memory/undo` removes the whole file's
    records."""
    _check_upload_type(request)
    name = Path(filename.replace("\\", "/")).name  # a browser may send a Windows path
    if not name.isprintable() or name.startswith("."):
        raise ValidationError(
            f"the file name {filename!r} cannot be used",
            hint="send the file's own name, e.g. filename=faq.md",
        )
    if not name.lower().endswith(INGEST_SUFFIXES):
        raise ValidationError(
            f"cannot ingest {name!r}: not a document or a transcript",
            hint=f"upload a file ending in one of {', '.join(INGEST_SUFFIXES)}",
        )
    text = _utf8(
        await request.body(), repr(name), "save the file as UTF-8 text and upload it again"
    )
    if not text.strip():
        raise ValidationError(
            f"{name!r} is empty: nothing to ingest", hint="upload a file with text"
        )
    stored = await run_in_threadpool(_ingest_text, state, namespace, domain, name, text)
    return IngestedOut(added=len(stored), ids=[r.id for r in stored])


def _check_upload_type(request: Request, expected: str = UPLOAD_TYPE) -> None:
    sent = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if not sent or sent in CROSS_SITE_TYPES:
        raise ValidationError(
            f"an upload is sent as Content-Type: {expected}, not {sent or 'none'}",
            hint=f"send the header 'Content-Type: {expected}' (curl: -H 'Content-Type: "
            f"{expected}' --data-binary @FILE)",
        )


def _ingest_text(
    state: ServerState, namespace: str, domain: str, name: str, text: str
) -> list[Record]:
    """The uploaded text through the same `ingest_records` as the CLI, from a private temporary
    folder (it reads files); the records name the uploaded file as their source."""
    with tempfile.TemporaryDirectory(prefix="mindpilot-upload-") as folder:
        path = Path(folder) / name
        path.write_text(text, encoding="utf-8")
        records = ingest_records(path, namespace=namespace, domain=domain)
    prefix = f"{folder}/"
    named = [_renamed(r, prefix) for r in records]
    return state.store.add_many(named, actor=ACTOR)


def _renamed(record: Knowledge, prefix: str) -> Knowledge:
    return dataclasses.replace(record, source=record.source.replace(prefix, "", 1))
