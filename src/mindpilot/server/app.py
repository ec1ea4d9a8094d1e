"""The FastAPI app: state, error handlers, the request size limit and the route families."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from fastapi import FastAPI, Request
from pydantic import BaseModel

from mindpilot import config
from mindpilot.errors import ConfigError
from mindpilot.server import (
    adapter_routes,
    errors,
    memory_routes,
    monitor_routes,
    openai_routes,
    web,
)
from mindpilot.server.deps import ServerState, get_state
from mindpilot.server.keys import KeyStore
from mindpilot.server.limits import DEFAULT_MAX_BODY_BYTES, BodySizeLimit, HeaderSizeLimit
from mindpilot.server.monitor_jobs import MonitorSchedule, MonitorScheduler
from mindpilot.server.queue import GenerationQueue, QueueStats

if TYPE_CHECKING:
    from mindpilot.engine import Engine

DEFAULT_QUEUE = 16


class Health(BaseModel):
    status: str
    queue: QueueStats  # generations running and waiting, and counts since the start
    # Which question the CLI's resident calls would reach: the store (`config.store_id` of its
    # file; None for a store that is not a file) and open mode's namespace (None with keys).
    store: str | None = None
    namespace: str | None = None


def create_app(
    engine: Engine,
    *,
    open_mode: bool = False,
    open_namespace: str = "default",
    keys: KeyStore | None = None,
    queue_size: int = DEFAULT_QUEUE,
    max_wait_s: float = 120.0,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    monitor: MonitorSchedule | None = None,
) -> FastAPI:
    """The mindpilot HTTP API over `engine` and its store (open it with
    `Engine.open(..., lazy=True)` to load the model on the first generation).

    Without `open_mode`, callers need an API key of `keys` (default: the installation's key
    file); `queue_size` generations may wait while one runs, more are refused with 429, and so
    is one expected to take over `max_wait_s` (the queue's admission). `monitor`: when the
    server starts monitor runs by itself (default: only when asked, POST /v1/monitor/runs)."""
    if engine.store is None:
        raise ConfigError(
            "the server needs the engine's Mental Process store",
            hint="open the engine with a store: Engine.open(store=...)",
        )
    state = ServerState(
        engine=engine,
        open_mode=open_mode,
        open_namespace=open_namespace,
        keys=None if open_mode else keys or KeyStore.default(),
        queue=GenerationQueue(max_waiting=queue_size, max_wait_s=max_wait_s),
    )

    scheduler = MonitorScheduler(state, monitor) if monitor and monitor.on else None

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if scheduler is not None:
            scheduler.start()
        yield
        if scheduler is not None:
            scheduler.stop()
        state.queue.shutdown()
        state.training.shutdown()  # a job still training stops at its next step
        state.monitoring.shutdown()  # a run stops at its next step, nothing of it stored

    app = FastAPI(title="mindpilot", version=_version(), lifespan=lifespan)
    app.state.mindpilot = state
    errors.install(app)
    app.add_middleware(BodySizeLimit, max_bytes=max_body_bytes)
    app.add_middleware(HeaderSizeLimit)  # added last: it runs first
    app.include_router(openai_routes.router)
    app.include_router(memory_routes.router)
    app.include_router(adapter_routes.router)
    app.include_router(monitor_routes.router)
    web.install(app)  # the web page at `/`, a client of the routes above

    @app.get("/health", response_model=Health)
    def health(request: Request) -> Health:
        """The server answers; the generation queue's state."""
        state = get_state(request)
        path = state.store.sqlite_path
        return Health(
            status="ok", queue=state.queue.stats(),
            store=None if path is None else config.store_id(path),
            namespace=state.open_namespace if state.open_mode else None,
        )  # fmt: skip

    return app


def _version() -> str:
    from importlib.metadata import version

    return version("mindpilot")
