"""The `openai` backend against a real OpenAI-compatible server on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from http.server import ThreadingHTTPServer

import pytest

from mindpilot.autopilot import Autopilot
from mindpilot.errors import BackendError, ConfigError, ModelNotFoundError
from tests.openai_server import serve


@pytest.fixture(scope="module")
def server(tiny_autopilot: Autopilot) -> Iterator[ThreadingHTTPServer]:
    httpd = serve(tiny_autopilot)
    yield httpd
    httpd.shutdown()


def remote(server: ThreadingHTTPServer, model: str) -> Autopilot:
    host, port = server.server_address[:2]
    return Autopilot.load(model, backend="openai", base_url=f"http://{host!s}:{port}/v1")


def test_remote_greedy_answer_equals_in_process(
    server: ThreadingHTTPServer, tiny_autopilot: Autopilot
) -> None:
    local = tiny_autopilot.generate("Tell me about cats", max_new_tokens=12)
    result = remote(server, tiny_autopilot.model_name).generate(
        "Tell me about cats", max_new_tokens=12
    )
    assert result.text == local.text
    assert result.usage == local.usage
    assert result.backend == "openai" and result.finish_reason == "length"


def test_remote_stream_and_stop(server: ThreadingHTTPServer, tiny_autopilot: Autopilot) -> None:
    autopilot = remote(server, tiny_autopilot.model_name)
    free = tiny_autopilot.generate("Go on", max_new_tokens=20).text
    stream = autopilot.stream("Go on", max_new_tokens=20)
    pieces = list(stream)
    assert len(pieces) > 1 and "".join(pieces) == free
    stop = free[5:8]
    assert (
        autopilot.generate("Go on", max_new_tokens=20, stop=stop).text == free[: free.index(stop)]
    )


def test_unknown_remote_model(server: ThreadingHTTPServer) -> None:
    with pytest.raises(ModelNotFoundError, match="no model 'ghost'"):
        remote(server, "ghost").generate("hi")


def test_server_down_is_a_clear_error() -> None:
    import socket

    with socket.socket() as sock:  # a free port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    autopilot = Autopilot.load("m", backend="openai", base_url=f"http://127.0.0.1:{port}/v1")
    with pytest.raises(BackendError, match="cannot reach"):
        autopilot.generate("hi")


def test_openai_backend_needs_an_address(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MINDPILOT_OPENAI_BASE_URL", raising=False)
    with pytest.raises(ConfigError, match="address"):
        Autopilot.load("m", backend="openai")
