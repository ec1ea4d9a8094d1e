"""Per-app state and the dependencies every route takes: the state, and the caller's namespace.

Routes never read another namespace than the one `caller_namespace` returns: that is the
isolation guarantee between API keys.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from fastapi import Request

if TYPE_CHECKING:
    from mindpilot.autopilot.model import Autopilot
    from mindpilot.engine import Engine
    from mindpilot.mental_process.store import Store
    from mindpilot.monitor.audit import AuditLog


@dataclass
class ServerState:
    """What one running server holds. The Autopilot loads on first use (`engine()`), so the
    Mental Process REST API answers at once and tests of it never load a model."""

    store: Store
    audit: AuditLog | None
    load_autopilot: Callable[[], Autopilot]
    open_mode: bool = False  # no API keys: every caller is in `open_namespace`
    open_namespace: str = "default"
    _engine: Engine | None = field(default=None, repr=False)
    _engine_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def engine(self) -> Engine:
        """The one engine of this server (loads the Autopilot the first time)."""
        from mindpilot.engine import Engine

        with self._engine_lock:
            if self._engine is None:
                self._engine = Engine(self.load_autopilot(), self.store, self.audit)
            return self._engine


def get_state(request: Request) -> ServerState:
    state: ServerState = request.app.state.mindpilot
    return state


def caller_namespace(request: Request) -> str:
    """The one namespace this request may read and change. Every route that touches data takes
    it as a dependency (`namespace: str = Depends(caller_namespace)`) and uses nothing else."""
    state = get_state(request)
    if state.open_mode:
        return state.open_namespace
    # API keys (Authorization: Bearer <key>) are being built; until then only open mode works.
    from fastapi import HTTPException

    raise HTTPException(401, "missing API key: send Authorization: Bearer <key>")
