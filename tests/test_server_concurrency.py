"""Several simultaneous clients, a full queue (429), and disconnects that cancel generation."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from mindpilot.autopilot import Autopilot
from mindpilot.autopilot.transformers_backend import TransformersBackend
from mindpilot.engine import Engine
from mindpilot.monitor.audit import AuditLog
from tests.server_helpers import Served, error_of, serving

# Far more tokens than a test waits for: a generation this long only ends early if cancelled.
ENDLESS = 3000


@pytest.fixture(scope="module")
def long_autopilot(tiny_model_dir: Path) -> Autopilot:
    """The tiny model with room for thousands of tokens (~10 ms each here): a generation that
    runs long enough to be cancelled, or to hold the worker while others queue."""
    from transformers import AutoTokenizer, LlamaForCausalLM

    model = LlamaForCausalLM.from_pretrained(tiny_model_dir, max_position_embeddings=8192)
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    return Autopilot(TransformersBackend(model, tokenizer, model_name="long-tiny"))


def wait_until(condition: Callable[[], bool], what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting until {what}")
        time.sleep(0.05)


def test_simultaneous_clients_each_get_their_own_answer(
    tiny_autopilot: Autopilot, tmp_path: Path
) -> None:
    prompts = [f"Question number {i}: what is {i} plus {i}?" for i in range(6)]
    engine = Engine(tiny_autopilot)
    expected = [engine.respond(p, max_new_tokens=12).text for p in prompts]
    with serving(tiny_autopilot, tmp_path) as served:

        def ask(i: int) -> str:
            client = served.client()
            messages = [{"role": "user", "content": prompts[i]}]
            name = tiny_autopilot.model_name
            if i % 2:  # half of them stream
                chunks = client.chat.completions.create(
                    model=name, messages=messages, max_tokens=12, stream=True
                )
                return "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
            answer = client.chat.completions.create(model=name, messages=messages, max_tokens=12)
            return answer.choices[0].message.content or ""

        with ThreadPoolExecutor(len(prompts)) as pool:
            answers = list(pool.map(ask, range(len(prompts))))
        assert answers == expected  # whole, in order, never mixed with another request's
        queue = served.health()
        assert queue["completed"] == len(prompts) and queue["rejected"] == queue["failed"] == 0


@pytest.fixture
def one_slot(long_autopilot: Autopilot, tmp_path: Path) -> Iterator[Served]:
    """One generation running and one waiting at most."""
    with serving(long_autopilot, tmp_path, queue_size=1) as served:
        yield served


def body(max_tokens: int, stream: bool = False) -> dict[str, Any]:
    messages = [{"role": "user", "content": "Go on"}]
    return {"model": "long-tiny", "messages": messages, "max_tokens": max_tokens, "stream": stream}


def test_a_full_queue_answers_429_and_a_disconnect_frees_the_worker(one_slot: Served) -> None:
    url = f"{one_slot.url}/v1/chat/completions"
    with ThreadPoolExecutor(1) as pool:
        with httpx.stream("POST", url, json=body(ENDLESS, stream=True), timeout=60) as endless:
            lines = endless.iter_lines()
            assert next(lines).startswith("data: ")  # generating now
            waiting = pool.submit(lambda: httpx.post(url, json=body(4), timeout=60))
            wait_until(lambda: one_slot.health()["waiting"] == 1, "the second request waits")
            refused = httpx.post(url, json=body(4))
            assert refused.status_code == 429 and int(refused.headers["retry-after"]) >= 1
            assert "the server is busy" in error_of(refused)["message"]
        # the endless stream's client is gone: its generation stops, the waiting one runs
        answered = waiting.result(timeout=60)
    assert answered.status_code == 200 and answered.json()["usage"]["completion_tokens"] == 4
    queue = one_slot.health()
    assert (queue["cancelled"], queue["completed"], queue["rejected"]) == (1, 1, 1)
    audited = AuditLog(one_slot.store).list("default")
    assert [e.id for e in audited] == [answered.json()["mindpilot"]["audit_id"]]


def test_a_request_that_cannot_finish_in_its_clients_time_is_refused_at_once(
    one_slot: Served,
) -> None:
    """Admitted work finishes: a request is refused up front (429, Retry-After) when the
    generations ahead of it would outlast the client's timeout (the openai clients send it)."""
    url = f"{one_slot.url}/v1/chat/completions"
    with httpx.stream("POST", url, json=body(ENDLESS, stream=True), timeout=60) as endless:
        assert next(endless.iter_lines()).startswith("data: ")  # one generation running
        # admitted, it would wait behind the endless one (until this client timed out)
        hurried = httpx.post(url, json=body(4), headers={"X-Stainless-Timeout": "2"}, timeout=60)
        assert hurried.status_code == 429 and int(hurried.headers["retry-after"]) >= 1
        assert "over the 2 s it may take" in error_of(hurried)["message"]
    wait_until(lambda: one_slot.health()["running"] == 0, "the endless generation is cancelled")
    patient = httpx.post(url, json=body(4), headers={"X-Stainless-Timeout": "600"}, timeout=60)
    assert patient.status_code == 200  # with no generation ahead, it fits
    assert one_slot.health()["rejected"] == 1


def test_a_client_that_gives_up_waiting_cancels_its_generation(one_slot: Served) -> None:
    url = f"{one_slot.url}/v1/chat/completions"
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(url, json=body(ENDLESS), timeout=1.0)
    wait_until(lambda: one_slot.health()["cancelled"] == 1, "the generation is cancelled")
    after = httpx.post(url, json=body(4), timeout=60)
    assert after.status_code == 200
    queue = one_slot.health()
    assert queue["completed"] == 1 and queue["running"] == queue["waiting"] == 0
