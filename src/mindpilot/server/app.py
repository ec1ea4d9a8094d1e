"""The FastAPI app: state, error handlers and the route families."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from fastapi import FastAPI

from mindpilot.server import errors, memory_routes
from mindpilot.server.deps import ServerState

if TYPE_CHECKING:
    from mindpilot.autopilot.model import Autopilot
    from mindpilot.mental_process.store import Store


def create_app(
    store: Store,
    load_autopilot: Callable[[], Autopilot],
    *,
    open_mode: bool = False,
    open_namespace: str = "default",
) -> FastAPI:
    """The mindpilot HTTP API over `store`; the Autopilot loads on the first generation."""
    from mindpilot.monitor.audit import AuditLog

    app = FastAPI(title="mindpilot", version=_version())
    app.state.mindpilot = ServerState(
        store=store,
        audit=AuditLog.for_store(store),
        load_autopilot=load_autopilot,
        open_mode=open_mode,
        open_namespace=open_namespace,
    )
    errors.install(app)
    app.include_router(memory_routes.router)

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    return app


def _version() -> str:
    from importlib.metadata import version

    return version("mindpilot")
