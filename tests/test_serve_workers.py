"""Several server processes on one PostgreSQL store: a server in this process and
`mindpilot serve --workers 2` on one database; what is written through one server is read
through the other, and writes spread over the two workers all land."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest

from mindpilot.bench.common import start_server
from mindpilot.mental_process import open_store
from tests.mp_fixtures import PostgresDatabases
from tests.test_server_memory import serve


@pytest.fixture
def database(postgres_databases: PostgresDatabases) -> Iterator[str]:
    name, url = postgres_databases.new()
    yield url
    postgres_databases.drop(name)


def record(text: str) -> dict[str, str]:
    return {"kind": "knowledge", "domain": "faq", "text": text}


@pytest.mark.slow  # three processes import torch and load a model: ~30 s on 2 busy cores
def test_a_server_and_two_workers_share_one_database(
    database: str, tiny_model_dir: Path, isolated_home: Path, hashing_env: None
) -> None:
    env = {**os.environ, "MINDPILOT_HOME": str(isolated_home), "MINDPILOT_SERVER": "off"}
    command = [sys.executable, "-m", "mindpilot", "serve", "--open", "--store", database,
               "--model", str(tiny_model_dir), "--workers", "2"]  # fmt: skip
    workers, url = start_server(command, env, start_s=180)
    try:
        with open_store(database) as store, serve(store) as here:
            made = here.post("/v1/memory/records", json=record("Refunds take five days"))
            assert made.status_code == 201, made.text
            for i in range(12):  # new connections: the kernel spreads them over the workers
                with httpx.Client(base_url=url, timeout=30) as there:
                    if i == 0:
                        seen = there.get(f"/v1/memory/records/{made.json()['id']}")
                        assert seen.status_code == 200, seen.text
                        assert seen.json()["text"] == "Refunds take five days"
                    response = there.post("/v1/memory/records", json=record(f"fact {i}"))
                    assert response.status_code == 201, response.text
            listed = here.get("/v1/memory/records", params={"limit": 100}).json()["data"]
            assert len(listed) == 13
            hits = here.post("/v1/memory/search", json={"query": "refunds five days"}).json()
            assert hits["data"][0]["record"]["id"] == made.json()["id"]
        spawned = [p for p in psutil.Process(workers.pid).children(recursive=True)
                   if "spawn_main" in " ".join(p.cmdline())]  # fmt: skip
        assert len(spawned) == 2
    finally:
        workers.terminate()
        workers.wait(30)
