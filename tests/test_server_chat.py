"""POST /v1/chat/completions and GET /v1/models over real HTTP, with the official openai client
(plain and streaming) and raw httpx, on the tiny model; every bad input's status and body."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest

from mindpilot.autopilot import Autopilot, Message
from mindpilot.engine import Engine
from mindpilot.errors import ContextWindowError
from mindpilot.mental_process.records import Knowledge, TaskProfile
from mindpilot.monitor.audit import AuditLog
from mindpilot.server.openai_stream import ChunkHeader, sse_events
from mindpilot.server.queue import Job
from tests.server_helpers import USER, Served, error_of, serving

FACT = "The Zorblat 9 router is reset by holding its blue button for 12 seconds."


@pytest.fixture(scope="module")
def served(tiny_autopilot: Autopilot, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with serving(tiny_autopilot, tmp_path_factory.mktemp("chat")) as served:
        store = served.store
        store.put_task(TaskProfile(name="support", description="router help", personality="kind"))
        store.add(Knowledge(domain="routers", text=FACT))
        yield served


def ask(content: str = USER) -> list[dict[str, str]]:
    return [{"role": "user", "content": content}]


def test_plain_chat_equals_the_engine_in_process(served: Served, tiny_autopilot: Autopilot) -> None:
    name = tiny_autopilot.model_name
    answer = served.client().chat.completions.create(model=name, messages=ask(), max_tokens=12)
    local = Engine(tiny_autopilot).respond(USER, max_new_tokens=12)
    assert answer.choices[0].message.content == local.text and local.text
    assert answer.choices[0].finish_reason == local.generation.finish_reason
    assert answer.usage is not None
    assert answer.usage.prompt_tokens == local.generation.usage.prompt_tokens
    assert answer.usage.completion_tokens == local.generation.usage.completion_tokens
    assert answer.model == name and answer.object == "chat.completion"
    extra = (answer.model_extra or {})["mindpilot"]
    assert extra["task"] is None and extra["used"] == []  # the base model: no Mental Process


def test_a_task_answers_with_provenance_and_is_audited(served: Served) -> None:
    answer = served.client().chat.completions.create(
        model="support", messages=ask("How do I reset the Zorblat 9 router?"), max_tokens=8
    )
    extra = (answer.model_extra or {})["mindpilot"]
    knowledge = served.store.list("default", kind="knowledge")[0]
    assert extra["task"] == "support" and extra["namespace"] == "default"
    assert [u["id"] for u in extra["used"]] == [knowledge.id]
    assert extra["used"][0]["version"] == 1 and extra["memory_tokens"] > 0
    assert extra["used"][0]["stage"] == "prompt"  # taken before generating, not mid-answer
    entry = AuditLog(served.store).get("default", extra["audit_id"])
    assert entry.task == "support" and entry.response == answer.choices[0].message.content
    assert FACT in "\n".join(m.content for m in entry.prompt)


def test_streaming_gives_the_same_text_in_pieces(served: Served) -> None:
    client = served.client()
    plain = client.chat.completions.create(model="support", messages=ask(), max_tokens=16)
    chunks = list(
        client.chat.completions.create(
            model="support",
            messages=ask(),
            max_tokens=16,
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    assert chunks[0].choices[0].delta.role == "assistant"
    pieces = [c.choices[0].delta.content for c in chunks[1:] if c.choices]
    pieces = [p for p in pieces if p]
    assert len(pieces) > 1 and "".join(pieces) == plain.choices[0].message.content
    final = next(c for c in chunks if c.choices and c.choices[0].finish_reason)
    assert final.choices[0].finish_reason == plain.choices[0].finish_reason
    provenance = (final.model_extra or {})["mindpilot"]
    assert [u["id"] for u in provenance["used"]] == [
        u["id"] for u in (plain.model_extra or {})["mindpilot"]["used"]
    ]
    assert chunks[-1].choices == [] and chunks[-1].usage == plain.usage
    assert len({c.id for c in chunks}) == 1


def test_raw_server_sent_events(served: Served) -> None:
    body = {"model": "support", "messages": ask(), "max_tokens": 6, "stream": True}
    with httpx.stream("POST", f"{served.url}/v1/chat/completions", json=body) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        lines = [line for line in response.iter_lines() if line]
    assert all(line.startswith("data: ") for line in lines)
    assert lines[-1] == "data: [DONE]"
    events = [json.loads(line[6:]) for line in lines[:-1]]
    assert all(e["object"] == "chat.completion.chunk" for e in events)
    assert events[-1]["choices"][0]["finish_reason"] in ("stop", "length")
    assert "usage" not in events[-1]  # not asked for with stream_options


def test_decoding_options(served: Served, tiny_autopilot: Autopilot) -> None:
    client, name = served.client(), tiny_autopilot.model_name
    free = client.chat.completions.create(model=name, messages=ask(), max_tokens=20)
    text = free.choices[0].message.content or ""
    stop = text[6:9]
    cut = client.chat.completions.create(model=name, messages=ask(), max_tokens=20, stop=[stop])
    assert cut.choices[0].message.content == text[: text.index(stop)]
    assert cut.choices[0].finish_reason == "stop"
    sampled = [
        client.chat.completions.create(
            model=name, messages=ask(), max_tokens=12, temperature=1.5, top_p=0.9, seed=seed
        )
        .choices[0]
        .message.content
        for seed in (7, 7, 8)
    ]
    assert sampled[0] == sampled[1] != sampled[2]
    short = client.chat.completions.create(
        model=name, messages=ask(), max_tokens=20, max_completion_tokens=3
    )
    assert short.usage is not None and short.usage.completion_tokens == 3


def test_models_are_the_base_model_and_the_tasks(served: Served, tiny_autopilot: Autopilot) -> None:
    client = served.client()
    ids = [m.id for m in client.models.list()]
    assert ids == [tiny_autopilot.model_name, "support"]
    assert client.models.retrieve("support").owned_by == "default"
    with pytest.raises(openai.NotFoundError, match="support"):
        client.models.retrieve("ghost")


def test_a_task_known_only_by_its_records_is_a_model(served: Served) -> None:
    from mindpilot.mental_process.records import Experience

    served.store.add(Experience(task="triage", situation="a user is angry", response="calm down"))
    answer = served.client().chat.completions.create(model="triage", messages=ask(), max_tokens=4)
    assert (answer.model_extra or {})["mindpilot"]["task"] == "triage"
    listed = {m.id: m for m in served.client().models.list()}
    assert "triage" in listed and listed["triage"].owned_by == "default"  # listed like the others


LONG = "word " * 400  # far more than the tiny model's 256-token context window


@pytest.mark.parametrize(
    ("change", "status", "names"),
    [
        ({"n": 2}, 400, "n=2"),
        ({"model": "ghost"}, 404, "'support'"),
        ({"tools": [{"type": "function", "function": {"name": "bad name!"}}]}, 422, "name"),
        ({"tool_choice": "required"}, 422, "no tools were given"),
        ({"temperature": 5}, 422, "temperature"),
        ({"top_p": 0}, 422, "top_p"),
        ({"max_tokens": 0}, 422, "max_tokens"),
        ({"messages": []}, 422, "messages"),
        ({"messages": [{"role": "robot", "content": "x"}]}, 422, "messages.0.role"),
        (
            {"messages": [{"role": "user"}]},
            422,
            "messages.0: Value error, a user message needs content",
        ),
        ({"stop": ""}, 422, "stop"),
        ({"stop": ["a", "b", "c", "d", "e"]}, 422, "stop"),
        ({"messages": ask(LONG)}, 400, "holds 256 in all"),
        ({"messages": ask(LONG), "stream": True}, 400, "holds 256"),  # refused before any event
    ],
)
def test_bad_requests_get_a_status_and_a_message_naming_the_problem(
    served: Served, change: dict[str, object], status: int, names: str
) -> None:
    body = {"model": "support", "messages": ask(), "max_tokens": 4, **change}
    response = httpx.post(f"{served.url}/v1/chat/completions", json=body)
    assert response.status_code == status
    assert names in error_of(response)["message"]


def test_malformed_json_is_a_422(served: Served) -> None:
    response = httpx.post(
        f"{served.url}/v1/chat/completions",
        content=b'{"model": "support", "messages": [',
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 422 and error_of(response)["message"]


def test_openai_client_raises_the_server_message(served: Served) -> None:
    with pytest.raises(openai.NotFoundError, match="neither a task"):
        served.client().chat.completions.create(model="ghost", messages=ask())
    with pytest.raises(openai.BadRequestError, match="shorten the prompt"):
        served.client().chat.completions.create(model="support", messages=ask(LONG), stream=True)


def test_too_large_bodies_get_413(tiny_autopilot: Autopilot, tmp_path: Path) -> None:
    with serving(tiny_autopilot, tmp_path, max_body_bytes=4096) as served:
        url = f"{served.url}/v1/chat/completions"
        body = {"model": "x", "messages": ask("y" * 5000)}
        declared = httpx.post(url, json=body)
        assert declared.status_code == 413
        assert "limit of 4096" in error_of(declared)["message"]
        chunked = httpx.post(url, content=iter([json.dumps(body).encode()]))  # no Content-Length
        assert chunked.status_code == 413 and "limit of 4096" in error_of(chunked)["message"]
        fine = httpx.post(url, json={"model": "x", "messages": ask()})
        assert fine.status_code == 404  # under the limit: on to the next check


def test_an_error_after_the_first_event_is_an_error_event() -> None:
    """Once streaming has begun the status is sent; a failure then becomes an error event
    that OpenAI clients raise, and the stream ends without [DONE]."""

    async def run() -> list[str]:
        job = Job(asyncio.get_running_loop())
        header = ChunkHeader(id="chatcmpl-1", created=0, model="m", include_usage=False)
        job.emit("piece", "Hel")
        job.emit("error", ContextWindowError("the answer outgrew the window", hint="ask less"))
        return [event async for event in sse_events(job, header)]

    events = asyncio.run(run())
    assert json.loads(events[1][6:])["choices"][0]["delta"] == {"content": "Hel"}
    error = json.loads(events[-1][6:])["error"]
    assert error["code"] == 400 and "outgrew the window (fix: ask less)" in error["message"]
    assert not any("[DONE]" in e for e in events)


def test_health_reports_the_queue(served: Served) -> None:
    queue = served.health()
    assert queue["workers"] == 1 and queue["max_waiting"] == 16
    assert queue["running"] == 0 and queue["completed"] >= 0


def test_messages_in_openai_list_form_and_developer_role(
    served: Served, tiny_autopilot: Autopilot
) -> None:
    name = tiny_autopilot.model_name
    parts = [{"type": "text", "text": "Tell me about "}, {"type": "text", "text": "cats."}]
    body = {
        "model": name,
        "messages": [
            {"role": "developer", "content": "Be brief."},
            {"role": "user", "content": parts},
        ],
        "max_tokens": 8,
    }
    answer = httpx.post(f"{served.url}/v1/chat/completions", json=body).json()
    local = tiny_autopilot.generate(
        [Message("system", "Be brief."), Message("user", "Tell me about cats.")], max_new_tokens=8
    )
    assert answer["choices"][0]["message"]["content"] == local.text


def test_logprobs_in_openai_shape(served: Served, tiny_autopilot: Autopilot) -> None:
    """Each token's log-probability with its alternatives, plain and streamed; the same
    figures as the in-process model's."""
    import math

    client, name = served.client(), tiny_autopilot.model_name
    answer = client.chat.completions.create(
        model=name, messages=ask(), max_tokens=5, logprobs=True, top_logprobs=3
    )
    content = answer.choices[0].logprobs.content  # type: ignore[union-attr]
    assert len(content) == answer.usage.completion_tokens == 5  # type: ignore[union-attr]
    assert "".join(t.token for t in content) == answer.choices[0].message.content
    for token in content:
        assert token.logprob <= 0 and len(token.top_logprobs) == 3
        assert token.top_logprobs[0].logprob >= token.logprob  # greedy: the likeliest, or a tie
        assert math.isclose(token.top_logprobs[0].logprob, token.logprob, abs_tol=1e-5)
    local = tiny_autopilot.generate(ask()[0]["content"], max_new_tokens=5, logprobs=3)
    assert [round(t.logprob, 4) for t in local.logprobs] == [round(t.logprob, 4) for t in content]
    chunks = list(client.chat.completions.create(
        model=name, messages=ask(), max_tokens=5, logprobs=True, stream=True
    ))  # fmt: skip
    streamed = [
        t
        for c in chunks
        if c.choices and c.choices[0].logprobs
        for t in c.choices[0].logprobs.content or []
    ]
    assert [t.token for t in streamed] == [t.token for t in content]
    plain = client.chat.completions.create(model=name, messages=ask(), max_tokens=5)
    assert plain.choices[0].logprobs is None  # only when asked
