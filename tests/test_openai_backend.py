"""The `openai` backend against a real OpenAI-compatible server on loopback: `mindpilot serve`
itself (the tiny model behind it), so one mindpilot uses another as its engine."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from mindpilot.autopilot import Autopilot
from mindpilot.engine import Engine
from mindpilot.errors import BackendError, ConfigError, ModelNotFoundError
from mindpilot.mental_process.records import Knowledge, TaskProfile
from mindpilot.server.keys import KeyStore
from tests.server_helpers import Served, serving


@pytest.fixture(scope="module")
def server(tiny_autopilot: Autopilot, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with serving(tiny_autopilot, tmp_path_factory.mktemp("remote")) as served:
        yield served


def remote(server: Served, model: str, **options: str) -> Autopilot:
    return Autopilot.load(model, backend="openai", base_url=f"{server.url}/v1", **options)


def test_remote_greedy_answer_equals_in_process(server: Served, tiny_autopilot: Autopilot) -> None:
    local = tiny_autopilot.generate("Tell me about cats", max_new_tokens=12)
    result = remote(server, tiny_autopilot.model_name).generate(
        "Tell me about cats", max_new_tokens=12
    )
    assert result.text == local.text
    assert result.usage == local.usage
    assert result.backend == "openai" and result.finish_reason == "length"


def test_sampling_controls_reach_the_server(server: Served, tiny_autopilot: Autopilot) -> None:
    """presence/frequency penalties (OpenAI's fields), top_k and repetition_penalty (vLLM's
    extensions) go over the wire and decode there as they do here."""
    options = {"repetition_penalty": 1.5, "frequency_penalty": 1.0, "presence_penalty": 0.2}
    local = tiny_autopilot.generate("Tell me a story", max_new_tokens=60, **options)
    plain = tiny_autopilot.generate("Tell me a story", max_new_tokens=60)
    assert local.text != plain.text  # the penalties change this answer: the test can fail
    far = remote(server, tiny_autopilot.model_name)
    assert far.generate("Tell me a story", max_new_tokens=60, **options).text == local.text
    sampled = {"temperature": 1.0, "top_k": 3, "seed": 7}
    assert (
        far.generate("Hi", max_new_tokens=12, **sampled).text
        == tiny_autopilot.generate("Hi", max_new_tokens=12, **sampled).text
    )


def test_remote_logprobs_equal_in_process(server: Served, tiny_autopilot: Autopilot) -> None:
    local = tiny_autopilot.generate("Hello", max_new_tokens=4, logprobs=2)
    far = remote(server, tiny_autopilot.model_name).generate("Hello", max_new_tokens=4, logprobs=2)
    assert len(local.logprobs) == 4 and [t.token for t in far.logprobs] == [
        t.token for t in local.logprobs
    ]
    assert [len(t.top) for t in far.logprobs] == [2] * 4
    assert tiny_autopilot.generate("Hello", max_new_tokens=4).logprobs == ()  # only when asked


def test_remote_stream_and_stop(server: Served, tiny_autopilot: Autopilot) -> None:
    autopilot = remote(server, tiny_autopilot.model_name)
    free = tiny_autopilot.generate("Go on", max_new_tokens=20).text
    stream = autopilot.stream("Go on", max_new_tokens=20)
    pieces = list(stream)
    assert len(pieces) > 1 and "".join(pieces) == free
    stop = free[5:8]
    assert (
        autopilot.generate("Go on", max_new_tokens=20, stop=stop).text == free[: free.index(stop)]
    )


def test_unknown_remote_model(server: Served) -> None:
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
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    with pytest.raises(ConfigError, match="OPENAI_BASE_URL"):
        Autopilot.load("m", backend="openai")


def test_openai_backend_reads_the_openai_variables(
    server: Served, tiny_autopilot: Autopilot, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What a user of the openai library has set already: OPENAI_BASE_URL, OPENAI_API_KEY."""
    for name in ("MINDPILOT_OPENAI_BASE_URL", "MINDPILOT_OPENAI_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("OPENAI_BASE_URL", f"{server.url}/v1")
    monkeypatch.setenv("OPENAI_API_KEY", "anything")
    remote = Autopilot.load(tiny_autopilot.model_name, backend="openai")
    assert remote.backend.base_url == f"{server.url}/v1"  # type: ignore[attr-defined]
    assert remote.generate("Hello", max_new_tokens=4).text


def test_a_remote_task_answers_with_the_remote_mental_process(
    tiny_autopilot: Autopilot, tmp_path: Path
) -> None:
    """The front mindpilot sends prompts; the one behind it adds its task's knowledge."""
    keys = KeyStore(tmp_path / "keys.db")
    _, key = keys.create("team")
    with serving(tiny_autopilot, tmp_path, keys=keys) as served:
        served.store.put_task(TaskProfile(name="support", namespace="team"))
        served.store.add(Knowledge(namespace="team", domain="d", text="Zorblat routers are blue."))
        front = Engine(remote(served, "support", api_key=key))
        question = "What colour are Zorblat routers?"
        answer = front.respond(question, max_new_tokens=10)
        entry = served.health()
        behind = Engine(tiny_autopilot, served.store).respond(
            question, task="support", namespace="team", max_new_tokens=10
        )
        assert answer.text == behind.text and answer.generation.backend == "openai"
        assert answer.generation.usage.prompt_tokens == behind.generation.usage.prompt_tokens
        assert entry["completed"] == 1
        pieces = list(front.stream(question, max_new_tokens=10))
        assert len(pieces) > 1 and "".join(pieces) == behind.text
        with pytest.raises(BackendError, match="401"):
            remote(served, "support", api_key="mp-wrong").generate(question)
    keys.close()
