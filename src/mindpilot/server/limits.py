"""Limits on requests: a larger body is refused with 413 before it is parsed, larger headers
with 431 before anything reads them."""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mindpilot.server.errors import error_response

DEFAULT_MAX_BODY_BYTES = 1024 * 1024
# All header names and values together; a key is 46 characters, a browser sends 1-4 KB.
MAX_HEADER_BYTES = 16 * 1024
# What the HTTP parser (h11) buffers of a request still arriving: above its own 16 KiB default,
# so that oversize headers reach `HeaderSizeLimit` (431) instead of the parser's bare 400.
HEADER_BUFFER = 1024 * 1024


class HeaderSizeLimit:
    """ASGI middleware: 431 Request Header Fields Too Large over `max_bytes` of headers (the
    HTTP parser takes far more: a 100 KB Authorization header reached the key check)."""

    def __init__(self, app: ASGIApp, max_bytes: int = MAX_HEADER_BYTES) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            size = sum(len(name) + len(value) for name, value in scope["headers"])
            if size > self.max_bytes:
                message = (
                    f"the request's headers are {size} bytes, over this server's limit of "
                    f"{self.max_bytes}: send shorter headers (is the Authorization key right?)"
                )
                await error_response(431, message)(scope, receive, send)
                return
        await self.app(scope, receive, send)


class BodySizeLimit:
    """ASGI middleware: 413 when Content-Length, or the bytes actually sent, exceed the limit."""

    def __init__(self, app: ASGIApp, max_bytes: int = DEFAULT_MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_bytes = max_bytes

    def _message(self, size: str) -> str:
        return (
            f"the request body is {size} bytes, over this server's limit of {self.max_bytes}: "
            "send less (e.g. fewer or shorter messages), or start the server with a larger "
            "--max-body"
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.max_bytes:
            response = error_response(413, self._message(declared.decode()))
            await response(scope, receive, send)
            return
        received = 0

        async def limited() -> Message:
            # A body sent without Content-Length (chunked) is counted as it arrives; the
            # HTTPException goes to the app's handlers like any other error.
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise HTTPException(413, self._message(f"more than {self.max_bytes}"))
            return message

        await self.app(scope, limited, send)
