"""The web page for people: `GET /` and its static assets under `/static/`.

Plain HTML, CSS and JavaScript modules shipped inside the package (`server/static/`): no
build step and nothing fetched from elsewhere at run time. The page is a client of the public
HTTP API only, with the API key the person types (kept in the browser session), so it can do
nothing a key's holder could not do with curl. The page itself needs no key: it holds no data.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles
from starlette.responses import Response

STATIC = Path(__file__).parent / "static"

# Scripts only from this server (record and answer text is inserted as text, never as HTML;
# this is the second fence). Inline styles: the monitor's SVG plots carry their own.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'"
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-cache",  # a new version of the package shows at the next load
}


class _Assets(StaticFiles):
    """The page's files, with the same headers as the page."""

    def file_response(self, *args: Any, **kwargs: Any) -> Response:
        response = super().file_response(*args, **kwargs)
        response.headers.update(HEADERS)
        return response


def install(app: FastAPI) -> None:
    """Serve the page at `/` and its files at `/static/` (the API routes are unchanged)."""
    if not (STATIC / "index.html").is_file():  # a broken install, not a user's mistake
        raise RuntimeError(f"the web page's files are missing from {STATIC}")
    app.mount("/static", _Assets(directory=STATIC), name="static")

    @app.get("/", include_in_schema=False)
    def page() -> FileResponse:
        return FileResponse(STATIC / "index.html", headers=HEADERS)
