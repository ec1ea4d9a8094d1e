"""Chat sessions: persisted per namespace; `Chat` keeps the prompt within the context window.
Runs on every store backend (sessions live in the store's journal)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from mindpilot.applications.chat import Chat, Sessions
from mindpilot.autopilot import Message
from mindpilot.engine import Engine
from mindpilot.errors import ContextWindowError, NotFoundError, ValidationError
from mindpilot.mental_process import Knowledge, Store, TaskProfile, open_store
from mindpilot.monitor import AuditLog

EVERY_BACKEND = True  # store fixtures: one run per registered backend (mp_fixtures.py)


@pytest.fixture
def sessions(store: Store) -> Iterator[Sessions]:
    with Sessions(store) as sessions:
        yield sessions


def _chat(autopilot: Any, store: Store, sessions: Sessions) -> Chat:
    return Chat(Engine(autopilot, store, AuditLog(store)), sessions)


def test_create_append_read_delete(sessions: Sessions) -> None:
    session = sessions.create("default", "support")
    assert session.id.startswith("cs_") and session.task == "support" and session.title == ""
    sessions.append("default", session.id, Message("user", "My   router\nblinks red"))
    sessions.append("default", session.id, Message("assistant", "Unplug it."), audit_id="au_1")
    assert sessions.messages("default", session.id) == [
        Message("user", "My   router\nblinks red"),
        Message("assistant", "Unplug it."),
    ]
    assert [t.audit_id for t in sessions.turns("default", session.id)] == [None, "au_1"]
    assert sessions.get("default", session.id).title == "My router blinks red"
    other = sessions.create("default", None, title="plain")
    assert [s.id for s in sessions.list("default")] == [other.id, session.id]
    sessions.delete("default", session.id)
    with pytest.raises(NotFoundError, match="no chat session"):
        sessions.messages("default", session.id)
    assert [s.id for s in sessions.list("default")] == [other.id]


def test_sessions_are_namespace_scoped(sessions: Sessions) -> None:
    alice = sessions.create("alice", "support")
    assert sessions.list("bob") == []
    for call in (sessions.get, sessions.messages, sessions.delete):
        with pytest.raises(NotFoundError):
            call("bob", alice.id)
    with pytest.raises(NotFoundError):
        sessions.append("bob", alice.id, Message("user", "sneaky"))
    assert sessions.messages("alice", alice.id) == []
    with pytest.raises(ValidationError):
        sessions.create("no spaces allowed", "support")


def test_a_session_persists_across_engines_and_opens(tiny_autopilot: Any, store_url: str) -> None:
    with open_store(store_url, embedder="hashing") as store, Sessions(store) as sessions:
        session = sessions.create("default", "support")
        first = _chat(tiny_autopilot, store, sessions).send(
            session.id, "My router blinks red.", max_new_tokens=3
        )
    with open_store(store_url, embedder="hashing") as store, Sessions(store) as sessions:
        chat = _chat(tiny_autopilot, store, sessions)  # a new engine on a reopened file
        second = chat.send(session.id, "What should I do?", max_new_tokens=3)
        turns = sessions.turns("default", session.id)
        entry = chat.engine.audit.get("default", second.audit_id or "")  # type: ignore[union-attr]
    assert [m.content for m in second.prompt] == [
        "My router blinks red.",
        first.text,
        "What should I do?",
    ]
    assert [(t.role, t.audit_id) for t in turns] == [
        ("user", None),
        ("assistant", first.audit_id),
        ("user", None),
        ("assistant", second.audit_id),
    ]
    assert entry.session_id == session.id and entry.question == "What should I do?"


def test_long_history_is_cut_to_fit_the_context_window(
    tiny_autopilot: Any, store: Store, sessions: Sessions
) -> None:
    assert tiny_autopilot.context_window == 256
    store.put_task(TaskProfile(name="support", personality="a patient support agent"))
    session = sessions.create("default", "support")
    for i in range(12):  # about 300 tokens of history: more than the window holds
        sessions.append("default", session.id, Message("user", f"question {i} " + "word " * 10))
        sessions.append("default", session.id, Message("assistant", f"answer {i} " + "ok " * 10))
    chat = _chat(tiny_autopilot, store, sessions)
    response = chat.send(session.id, "How long do router resets take?", max_new_tokens=16)
    prompt_tokens = response.generation.usage.prompt_tokens
    assert prompt_tokens + 16 <= 256
    assert prompt_tokens > 256 // 2  # it keeps as much history as fits, not just the question
    system, *conversation = response.prompt
    assert system.content == "You are a patient support agent."  # counted in the fit too
    assert conversation[0].role == "user" and conversation[0].content.startswith("question")
    assert "question 11" in conversation[-3].content  # the newest turns stay
    assert conversation[-1].content == "How long do router resets take?"
    assert "question 0 " not in " ".join(m.content for m in response.prompt)
    assert len(sessions.messages("default", session.id)) == 26  # nothing is deleted


def test_a_follow_up_retrieves_with_the_turn_before(
    tiny_autopilot: Any, store: Store, sessions: Sessions
) -> None:
    fact = store.add(Knowledge(domain="net", text="The Zorblax router reset button is under Q7"))
    session = sessions.create("default", "support")
    chat = _chat(tiny_autopilot, store, sessions)
    chat.send(session.id, "I own a Zorblax router", max_new_tokens=2)
    follow_up = chat.send(session.id, "where is the reset button on it?", max_new_tokens=2)
    assert fact.id in follow_up.used_ids


def test_chat_refuses_empty_text_and_unknown_sessions(
    tiny_autopilot: Any, store: Store, sessions: Sessions
) -> None:
    chat = _chat(tiny_autopilot, store, sessions)
    session = sessions.create("default", "support")
    with pytest.raises(ValidationError, match="empty"):
        chat.send(session.id, "   ")
    with pytest.raises(NotFoundError):
        chat.send("cs_000000000000", "hello")
    with pytest.raises(NotFoundError):
        chat.send(session.id, "hello", namespace="elsewhere")
    with pytest.raises(ContextWindowError):  # the newest turn alone cannot be cut
        chat.send(session.id, "word " * 300)
    assert sessions.messages("default", session.id) == []
