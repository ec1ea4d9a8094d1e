"""Per-app state and the dependencies every route takes: the state, and the caller's namespace.

Routes never read another namespace than the one `caller_namespace` returns: that is the
isolation guarantee between API keys.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from fastapi import HTTPException, Request

from mindpilot.server.jobs import JobKind, Jobs
from mindpilot.server.keys import HOW_TO_GET_A_KEY, KeyStore
from mindpilot.server.queue import GenerationQueue

if TYPE_CHECKING:
    from mindpilot.adapters import Adapted, Progress
    from mindpilot.engine import Engine
    from mindpilot.mental_process.store import Store
    from mindpilot.monitor.audit import AuditLog
    from mindpilot.monitor.runs import MonitorRun

TRAINING = JobKind(
    "training job",
    "job_",
    "GET /v1/adapters/jobs",
    "the server trains one adapter at a time",
    eta=lambda progress: progress.eta_s,
)
MONITORING = JobKind(
    "monitor run", "mon_", "GET /v1/monitor/jobs", "the server runs one monitor run at a time"
)


@dataclass
class ServerState:
    """What one running server holds: the one engine (opened by `Engine.open`, lazily, so the
    Mental Process REST API and `/v1/models` answer before the model loads), the keys, the
    generation queue, the adapter training jobs and the monitor runs in progress."""

    engine: Engine
    open_mode: bool = False  # no API keys: every caller is in `open_namespace`
    open_namespace: str = "default"
    keys: KeyStore | None = None  # required unless open_mode
    queue: GenerationQueue = field(default_factory=GenerationQueue)
    # each family one job at a time; a string progress is the monitor run's current step
    training: Jobs[Progress, Adapted] = field(default_factory=lambda: Jobs(TRAINING))
    monitoring: Jobs[str, MonitorRun] = field(default_factory=lambda: Jobs(MONITORING))

    @property
    def store(self) -> Store:
        store = self.engine.store
        if store is None:  # create_app refuses an engine without a store
            raise RuntimeError("the server's engine has no Mental Process store")
        return store

    @property
    def audit(self) -> AuditLog | None:
        return self.engine.audit


def get_state(request: Request) -> ServerState:
    state: ServerState = request.app.state.mindpilot
    return state


def caller_namespace(request: Request) -> str:
    """The one namespace this request may read and change. Every route that touches data takes
    it as a dependency (`namespace: str = Depends(caller_namespace)`) and uses nothing else.

    Open mode: the configured namespace. Otherwise the namespace of the API key sent as
    `Authorization: Bearer <key>`; a missing, unknown or revoked key is a 401."""
    state = get_state(request)
    if state.open_mode:
        return state.open_namespace
    if state.keys is None:  # create_app always sets keys outside open mode
        raise RuntimeError("the server has neither open mode nor an API key store")
    namespace = state.keys.lookup(_bearer_token(request))
    if namespace is None:
        raise _unauthorized(f"the API key is not valid (unknown or revoked): {HOW_TO_GET_A_KEY}")
    return namespace


def _bearer_token(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if not header:
        raise _unauthorized(
            f"missing API key: send the header 'Authorization: Bearer <key>' ({HOW_TO_GET_A_KEY})"
        )
    if scheme.lower() != "bearer" or not token.strip():
        raise _unauthorized("the Authorization header must read 'Bearer <key>'")
    return token.strip()


def _unauthorized(message: str) -> HTTPException:
    return HTTPException(401, message, headers={"WWW-Authenticate": "Bearer"})
