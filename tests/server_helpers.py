"""Helpers for the `mindpilot serve` tests: a real server (uvicorn, loopback), a real store."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import openai
from fastapi import FastAPI

from mindpilot.autopilot import Autopilot
from mindpilot.engine import Engine
from mindpilot.mental_process import Store, open_store
from mindpilot.server import create_app
from mindpilot.server.background import live_server

USER = "Tell me about the Zorblat 9 router."


@dataclass
class Served:
    url: str
    app: FastAPI
    store: Store

    def client(self, key: str = "not-needed", **options: Any) -> openai.OpenAI:
        """The official OpenAI client pointed at this server."""
        return openai.OpenAI(base_url=f"{self.url}/v1", api_key=key, max_retries=0, **options)

    def health(self) -> dict[str, Any]:
        import httpx

        queue: dict[str, Any] = httpx.get(f"{self.url}/health").json()["queue"]
        return queue


@contextmanager
def serving(
    autopilot: Autopilot,
    folder: Path,
    embedder: str = "hashing",
    *,
    target: str | None = None,
    **options: Any,
) -> Iterator[Served]:
    """A live server on a fresh store in `folder`, or on the store `target` names (a URL),
    in open mode unless `keys=` is given."""
    options.setdefault("open_mode", "keys" not in options)
    store = open_store(target or folder / "store.db", embedder=embedder)
    try:
        with Engine.open(autopilot, store=store) as engine:
            app = create_app(engine, **options)
            with live_server(app) as url:
                yield Served(url, app, store)
    finally:
        store.close()


def error_of(response: Any) -> dict[str, Any]:
    """The OpenAI-style error body of an httpx response (and check that it has that shape)."""
    body = response.json()
    assert set(body) == {"error"}, body
    error: dict[str, Any] = body["error"]
    assert error["code"] == response.status_code and error["type"] and error["message"]
    return error
