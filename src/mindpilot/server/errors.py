"""Errors at the HTTP edge: every failure answers in OpenAI's error shape, never a traceback.

    {"error": {"message": "...", "type": "invalid_request_error", "param": null, "code": 404}}

MindpilotError carries its own status (errors.py); request validation becomes 422 naming the
field; anything else is a 500 that is logged here, because it is our bug, not the caller's.
"""

from __future__ import annotations

import logging
import sqlite3
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from mindpilot.errors import MindpilotError

log = logging.getLogger("mindpilot.server")

_TYPES = {
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    409: "conflict_error",
    413: "request_too_large",
    429: "rate_limit_error",
    503: "overloaded_error",
}


class ErrorDetail(BaseModel):
    model_config = ConfigDict(extra="forbid")

    message: str = Field(description="What was wrong, and how to fix it.")
    type: str
    param: str | None
    code: int


class ErrorOut(BaseModel):
    """Every error, in OpenAI's shape (`error_body` writes it)."""

    model_config = ConfigDict(extra="forbid")

    error: ErrorDetail


def error_docs(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` entries for the error statuses a route may answer."""
    return {s: {"model": ErrorOut, "description": "Error (OpenAI's shape)"} for s in statuses}


def error_body(status: int, message: str, param: str | None = None) -> dict[str, Any]:
    kind = _TYPES.get(status, "invalid_request_error" if status < 500 else "server_error")
    return {"error": {"message": message, "type": kind, "param": param, "code": status}}


def error_response(
    status: int, message: str, param: str | None = None, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(error_body(status, message, param), status_code=status, headers=headers)


def install(app: FastAPI) -> None:
    """Register the handlers that turn every exception into an OpenAI-style error body."""

    @app.exception_handler(MindpilotError)
    async def _mindpilot(request: Request, err: MindpilotError) -> JSONResponse:
        status, message = status_and_message(err)
        if status >= 500:
            log.error("%s %s failed: %s", request.method, request.url.path, message)
        return error_response(status, message)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, err: RequestValidationError) -> JSONResponse:
        problems = [_describe(e) for e in err.errors()]
        first = err.errors()[0] if err.errors() else {}
        param = ".".join(str(p) for p in first.get("loc", ())[1:]) or None
        return error_response(422, "; ".join(problems) or "invalid request", param)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, err: StarletteHTTPException) -> JSONResponse:
        headers = dict(err.headers) if err.headers else None
        return error_response(err.status_code, str(err.detail), headers=headers)

    @app.exception_handler(Exception)
    async def _bug(request: Request, err: Exception) -> JSONResponse:
        log.exception("%s %s failed", request.method, request.url.path)
        return error_response(*status_and_message(err))


def status_and_message(err: Exception) -> tuple[int, str]:
    """The HTTP status and message for an error (also used for errors inside a stream)."""
    if isinstance(err, MindpilotError):
        message = f"{err.message} (fix: {err.hint})" if err.hint else err.message
        return err.http_status, message
    if isinstance(err, StarletteHTTPException):
        return err.status_code, str(err.detail)
    if isinstance(err, sqlite3.DatabaseError) and not isinstance(err, sqlite3.IntegrityError):
        # the store file went bad while serving: nothing was acknowledged, say so
        return 503, (
            f"the store cannot be used ({err}); nothing was written. An operator should run "
            "`mindpilot doctor` and restore a backup (`mindpilot memory restore`)"
        )
    return 500, f"internal error: {type(err).__name__}: {err}"


def _describe(error: Any) -> str:
    """'messages.0.role: Input should be ...' from one pydantic error."""
    where = ".".join(str(p) for p in error.get("loc", ()) if p != "body")
    message = str(error.get("msg", "invalid"))
    if error.get("type") == "extra_forbidden":  # pydantic's "Extra inputs are not permitted"
        message = "unknown field, not part of this API: remove it"
    return f"{where}: {message}" if where else message
