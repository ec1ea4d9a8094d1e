"""The audit log: every engine generation recorded with its provenance; feedback -> experience.
Runs on every store backend (the log lives in the store's journal)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from typing import Any

import pytest

from mindpilot.autopilot import Message
from mindpilot.engine import Engine
from mindpilot.errors import NotFoundError, ValidationError
from mindpilot.mental_process import Experience, Knowledge, Store, TaskProfile
from mindpilot.mental_process.sqlite import SQLiteStore
from mindpilot.monitor import AuditLog

EVERY_BACKEND = True  # store fixtures: one run per registered backend (mp_fixtures.py)


@pytest.fixture
def audit(store: Store) -> Iterator[AuditLog]:
    with AuditLog(store) as log:
        yield log


@pytest.fixture
def engine(tiny_autopilot: Any, store: Store, audit: AuditLog) -> Engine:
    return Engine(tiny_autopilot, store, audit)


def test_a_response_is_recorded_with_its_exact_provenance(engine: Engine, store: Store) -> None:
    fact = store.add(Knowledge(domain="billing", text="Refunds take five days to arrive"))
    fact = store.update("default", fact.id, text="Refunds take five working days to arrive")
    store.put_task(TaskProfile(name="support", personality="a support agent"))
    response = engine.respond(
        "How long do refunds take to arrive?", task="support", max_new_tokens=5
    )
    assert response.audit_id is not None and response.used_ids == [fact.id]
    entry = engine.audit.get("default", response.audit_id)  # type: ignore[union-attr]
    assert [(u.id, u.kind, u.version) for u in entry.used] == [(fact.id, "knowledge", 2)]
    assert entry.used[0].similarity == response.used[0].similarity
    assert entry.prompt == response.prompt and entry.response == response.text
    assert entry.question == "How long do refunds take to arrive?"
    assert "five working days" in entry.prompt[-1].content  # composed: knowledge added
    assert entry.task == "support" and entry.session_id is None
    assert entry.model == response.generation.model and entry.backend == "transformers"
    assert entry.completion_tokens == response.generation.usage.completion_tokens == 5
    assert entry.prompt_tokens == response.generation.usage.prompt_tokens
    assert entry.memory_tokens == response.memory_tokens > 0
    assert entry.retrieval_s > 0 and entry.prompt_s > 0 and entry.decode_s > 0
    assert entry.to_dict()["used"][0]["id"] == fact.id


def test_streamed_answers_are_recorded_too(engine: Engine) -> None:
    stream = engine.stream("Hello there", max_new_tokens=3)
    text = "".join(stream)
    response = stream.finish()
    assert engine.audit is not None
    assert engine.audit.get("default", response.audit_id or "").response == text
    assert response.task is None and response.used == ()


def test_list_is_newest_first_filtered_and_paged(engine: Engine, audit: AuditLog) -> None:
    ids = [
        engine.respond(f"question {i}", task=task, max_new_tokens=2).audit_id
        for i, task in enumerate(["a", "b", "a"])
    ]
    assert [e.id for e in audit.list("default")] == ids[::-1]
    assert [e.id for e in audit.list("default", task="a")] == [ids[2], ids[0]]
    assert [e.id for e in audit.list("default", limit=1, offset=1)] == [ids[1]]
    with pytest.raises(ValidationError):
        audit.list("default", limit=-1)


def test_the_log_is_namespace_scoped(engine: Engine, audit: AuditLog) -> None:
    mine = engine.respond("alice's question", namespace="alice", max_new_tokens=2)
    assert audit.list("bob") == []
    with pytest.raises(NotFoundError, match="no audit entry"):
        audit.get("bob", mine.audit_id or "")
    assert audit.get("alice", mine.audit_id or "").namespace == "alice"
    with pytest.raises(ValidationError):
        audit.list("not a namespace")


def test_without_an_audit_log_the_engine_still_answers(tiny_autopilot: Any, store: Store) -> None:
    response = Engine(tiny_autopilot, store).respond("hi", task="support", max_new_tokens=2)
    assert response.audit_id is None and response.request[0].content == "hi"


def test_audit_and_sessions_are_a_named_migration(store: Store) -> None:
    if isinstance(store, SQLiteStore):
        conn = sqlite3.connect(store.sqlite_path)
        names = [r[0] for r in conn.execute("SELECT name FROM schema_migrations")]
        conn.close()
        assert "0002_sessions_and_audit" in names
    else:
        import psycopg

        with psycopg.connect(store.url) as pg:  # type: ignore[attr-defined]
            names = [r[0] for r in pg.execute("SELECT name FROM schema_migrations")]
        assert "0004_sessions_audit_and_monitor_runs" in names


def test_feedback_becomes_an_experience_a_similar_request_retrieves(
    engine: Engine, audit: AuditLog, store: Store
) -> None:
    question = "How do I reset my router password?"
    first = engine.respond(question, task="support", max_new_tokens=4)
    assert first.used == ()
    experience = audit.feedback("default", first.audit_id or "", True, "clear steps")
    assert isinstance(experience, Experience)
    assert (experience.task, experience.situation, experience.response) == (
        "support",
        question,
        first.text,
    )
    assert experience.score == 1.0 and experience.note == "clear steps"
    assert audit.get("default", first.audit_id or "").experience_id == experience.id
    later = engine.respond("how do I reset the router password", task="support", max_new_tokens=2)
    assert experience.id in later.used_ids
    assert Message("user", question) in later.prompt[:-1]  # the experience: a worked example


def test_feedback_again_updates_the_same_experience(audit: AuditLog, engine: Engine) -> None:
    response = engine.respond("Where is my parcel?", task="support", max_new_tokens=2)
    good = audit.feedback("default", response.audit_id or "", True)
    bad = audit.feedback("default", response.audit_id or "", False, "wrong parcel")
    assert bad.id == good.id and bad.score == -1.0 and bad.version == 2
    assert len(audit.store.list("default", kind="experience")) == 1
    later = engine.respond("Where is my parcel?", task="support", max_new_tokens=2)
    assert good.id not in later.used_ids  # bad outcomes are not examples to follow


def test_feedback_needs_a_task_and_a_known_entry(audit: AuditLog, engine: Engine) -> None:
    untasked = engine.respond("hi", max_new_tokens=2)
    with pytest.raises(ValidationError, match="without a task"):
        audit.feedback("default", untasked.audit_id or "", True)
    with pytest.raises(NotFoundError):
        audit.feedback("default", "au_000000000000", True)
    with pytest.raises(NotFoundError):  # another namespace's entry is not found either
        audit.feedback("other", untasked.audit_id or "", True)
