"""The issue's "done when", end to end: `mindpilot serve` as a user starts it, the official
openai client, knowledge added over REST and used by the next answer with provenance."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import openai
import pytest

from mindpilot.autopilot import Autopilot
from mindpilot.mental_process.records import TaskProfile
from mindpilot.server.keys import KeyStore
from tests.server_helpers import serving

pytestmark = pytest.mark.slow
FACT = "The Zentrix Aurora kettle has a 7-year warranty. Refunds are possible within 45 days."
QUESTION = "How long is the warranty on the Zentrix Aurora kettle?"


def test_a_fact_added_over_rest_is_answered_with_provenance(
    default_autopilot: Autopilot, tmp_path: Path
) -> None:
    keys = KeyStore(tmp_path / "keys.db")
    _, key = keys.create("shop")
    with serving(default_autopilot, tmp_path, embedder="minilm", keys=keys) as served:
        served.store.put_task(
            TaskProfile(name="support", namespace="shop", personality="a Zentrix support agent")
        )
        fact = {"kind": "knowledge", "domain": "zentrix", "text": FACT}
        headers = {"Authorization": f"Bearer {key}"}
        created = httpx.post(f"{served.url}/v1/memory/records", json=fact, headers=headers)
        assert created.status_code == 201, created.text
        chunks = list(
            served.client(key).chat.completions.create(
                model="support",
                messages=[{"role": "user", "content": QUESTION}],
                max_tokens=40,
                stream=True,
            )
        )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert "7" in text, text
    final = next(c for c in chunks if c.choices and c.choices[0].finish_reason)
    used = (final.model_extra or {})["mindpilot"]["used"]
    assert used[0]["id"] == created.json()["id"] and used[0]["similarity"] > 0.5
    keys.close()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def test_mindpilot_serve_as_a_user_starts_it(tiny_model_dir: Path, isolated_home: Path) -> None:
    port = _free_port()
    env = {**os.environ, "MINDPILOT_HOME": str(isolated_home), "MINDPILOT_EMBEDDER": "hashing"}
    command = [sys.executable, "-m", "mindpilot", "serve", "--open", "--port", str(port)]
    server = subprocess.Popen(
        [*command, "--model", str(tiny_model_dir)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            assert server.poll() is None, server.communicate()
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health").status_code == 200:
                    break
            except httpx.ConnectError:
                pass
            assert time.monotonic() < deadline, "mindpilot serve did not start"
            time.sleep(0.2)
        client = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="not-needed")
        [model] = [m.id for m in client.models.list()]
        answer = client.chat.completions.create(
            model=model, messages=[{"role": "user", "content": "Hello"}], max_tokens=5
        )
        assert answer.usage is not None and answer.usage.completion_tokens == 5
        page = httpx.get(f"http://127.0.0.1:{port}/")  # the web page, from the installed package
        assert page.status_code == 200 and "/static/app.js" in page.text
    finally:
        server.terminate()
        out, _ = server.communicate(timeout=30)
    assert f"at http://127.0.0.1:{port}" in out and 'OpenAI(base_url="http://127.0.0.1' in out
    assert f"Open http://127.0.0.1:{port}/ in a browser" in out  # the web page (issue 15)
