"""`mindpilot serve --workers N`: N server processes on one port (uvicorn's supervisor), all
on one store. Each worker is a whole server: its own engine, so its own copy of the model and
of the embedder (docs/postgres.md has the memory each takes), and its own connection pool.
Requests are spread by the kernel over the workers' shared socket.

uvicorn starts each worker fresh (spawn) and builds its app with `worker_app`, which reads the
serve command's settings from the environment."""

from __future__ import annotations

import json
import os
from typing import Any

ENV = "MINDPILOT_SERVE_WORKER"


def check_store(store: str | None) -> None:
    """Open the store once before starting workers: a wrong URL fails here, said once."""
    from mindpilot.mental_process.store import open_store

    open_store(store).close()


def run(
    workers: int, host: str, port: int, *, load: dict[str, Any], store: str | None,
    app: dict[str, Any],
) -> None:  # fmt: skip
    import uvicorn

    from mindpilot.server.limits import HEADER_BUFFER

    os.environ[ENV] = json.dumps({"load": load, "store": store, "app": app}, default=str)
    uvicorn.run(f"{__name__}:worker_app", factory=True, workers=workers, host=host, port=port,
                log_level="warning", h11_max_incomplete_event_size=HEADER_BUFFER)  # fmt: skip


def worker_app() -> Any:
    """One worker's app (called by uvicorn in each worker process). Its engine stays open for
    the life of the process."""
    from mindpilot.cli.model_cmds import open_engine
    from mindpilot.cli.serve_cmds import build_app
    from mindpilot.server.keys import KeyStore

    settings = json.loads(os.environ[ENV])
    engine = open_engine(settings["load"], store=settings["store"])
    keys = None if settings["app"]["open_mode"] else KeyStore.default()
    return build_app(engine, keys, settings["app"])
