"""The journal every store keeps beside its records (`Store.journal()`): the audit log's
filters and tone adherence, monitor runs and sessions, scoped by namespace, read back exactly,
on every backend. The engine-level tests (test_audit.py, test_sessions.py, the stored runs of
test_monitor.py) run on every backend too; these reach what they do not."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from mindpilot.applications.chat import Sessions
from mindpilot.autopilot import Message
from mindpilot.errors import NotFoundError, ValidationError
from mindpilot.mental_process import Store
from mindpilot.mental_process.journal import AuditEntry, StoredRun
from mindpilot.mental_process.sqlite import SQLiteStore
from mindpilot.monitor import AuditLog
from mindpilot.types import AdapterUse, Citation, ToneUse, UsedRecord

EVERY_BACKEND = True  # store fixtures: one run per registered backend (mp_fixtures.py)

DAY = 86_400.0
START = 1_700_006_400.0  # 2023-11-15 00:00 UTC


def entry(number: int, *, namespace: str = "default", **fields: object) -> AuditEntry:
    """A full entry: every column set, JSON and NULL ones included."""
    base = AuditEntry(
        id=f"au_{number:012x}", namespace=namespace, task="support", session_id=None,
        created_at=START + number, request=(Message("user", f"question {number} \u00e9"),),
        prompt=(Message("system", "be kind"), Message("user", f"question {number}")),
        used=(UsedRecord("kn_000000000001", "knowledge", 2, 0.5, 0.25, "hop", 0.75),),
        response=f"answer {number}", tone=None, model="tiny", backend="transformers",
        finish_reason="length", prompt_tokens=30, completion_tokens=4, memory_tokens=12,
        retrieval_s=0.01, compose_s=0.002, prompt_s=0.1, decode_s=0.2,
        adapter=AdapterUse("ad_000000000001", "support", 3),
        citations=(Citation(f"answer {number}", 0, 8, "kn_000000000001", 2, 4, 9, 0.5),),
        abstained=number % 2 == 1, answer_mode="extractive",
    )  # fmt: skip
    return replace(base, **fields)  # type: ignore[arg-type]


def toned(number: int, tone: str, carried: bool | None, **fields: object) -> AuditEntry:
    use = ToneUse(tone, 0.8, "steering", "tv_1", 2.5, "", "warmth", 0.3, carried, "Sorry.")
    return entry(number, tone=tone, tone_use=use, **fields)


def test_entries_read_back_exactly_and_are_namespace_scoped(store: Store) -> None:
    first, second = entry(1), entry(2, adapter=None, citations=(), tone="calm")
    with AuditLog(store) as log, store.journal() as journal:
        journal.add_entry(first)
        journal.add_entry(second)
        journal.add_entry(entry(3, namespace="other"))
        assert log.list("default") == [second, first]  # newest first, every field as written
        assert log.get("default", first.id) == first
        assert log.list("default", tone="calm") == [second]
        assert [e.id for e in log.list("other")] == [entry(3).id]
        with pytest.raises(NotFoundError):
            log.get("other", first.id)
        journal.link_experience("other", first.id, "ex_000000000009")  # not its namespace
        assert log.get("default", first.id).experience_id is None
        journal.link_experience("default", first.id, "ex_000000000009")
        assert log.get("default", first.id).experience_id == "ex_000000000009"


def test_the_tone_filters_and_adherence(store: Store) -> None:
    rows = [
        toned(1, "empathy", True),
        toned(2, "empathy", False),
        toned(3, "empathy", True, created_at=START + DAY + 5),
        toned(4, "calm", None),  # asked, not measurable: not counted
        toned(5, "calm", False, task=None),
        toned(6, "empathy", True, task="billing"),
    ]
    with AuditLog(store) as log, store.journal() as journal:
        for row in rows:
            journal.add_entry(row)
        assert [e.id for e in log.list("default", carried=True)] == [
            rows[5].id, rows[2].id, rows[0].id,
        ]  # fmt: skip
        assert [e.id for e in log.list("default", tone="empathy", carried=False)] == [rows[1].id]
        assert log.get("default", rows[3].id).tone_carried is None
        days = [
            (a.task, a.tone, a.day, a.answers, a.carried) for a in log.tone_adherence("default")
        ]
        assert days == [
            (None, "calm", "2023-11-15", 1, 0),
            ("billing", "empathy", "2023-11-15", 1, 1),
            ("support", "empathy", "2023-11-15", 2, 1),
            ("support", "empathy", "2023-11-16", 1, 1),
        ]
        assert len(log.tone_adherence("default", task="support")) == 2
        assert log.tone_adherence("other") == []


def test_monitor_runs_are_kept_whole_per_namespace_and_task(store: Store) -> None:
    result = json.dumps({"conditions": [], "note": "caf\u00e9 " * 1000})
    runs = [
        StoredRun("mr_000000000001", "default", None, START, result),
        StoredRun("mr_000000000002", "default", "support", START + 1, result),
        StoredRun("mr_000000000003", "other", "support", START + 2, result),
    ]
    with store.journal() as journal:
        for run in runs:
            journal.add_run(run)
        assert journal.runs("default", None, 10) == [runs[1], runs[0]]
        assert journal.runs("default", "support", 10) == [runs[1]]
        assert journal.runs("default", None, 1) == [runs[1]]
        assert journal.runs("other", None, 10) == [runs[2]]
        assert journal.runs("nobody", None, 10) == []


def test_a_deleted_session_takes_its_turns_and_only_its_own(store: Store) -> None:
    with Sessions(store) as sessions, store.journal() as journal:
        gone, kept = sessions.create("default", "support"), sessions.create("default")
        for session in (gone, kept):
            sessions.append("default", session.id, Message("user", f"hello {session.id}"))
        journal.delete_session("other", gone.id)  # another namespace's call changes nothing
        assert len(sessions.turns("default", gone.id)) == 1
        assert journal.turns("other", gone.id) == []
        sessions.delete("default", gone.id)
        assert journal.turns("default", gone.id) == []
        assert [t.content for t in sessions.turns("default", kept.id)] == [f"hello {kept.id}"]
        assert [s.id for s in sessions.list("default")] == [kept.id]
        assert sessions.list("default", limit=1, offset=1) == []


def test_a_nul_character_is_kept_by_sqlite_and_refused_clearly_by_postgresql(
    store: Store,
) -> None:
    with Sessions(store) as sessions:
        session = sessions.create("default")
        turn = Message("user", "before\x00after")
        if isinstance(store, SQLiteStore):
            sessions.append("default", session.id, turn)
            assert sessions.messages("default", session.id) == [turn]
            return
        with pytest.raises(ValidationError, match="NUL character") as refused:
            sessions.append("default", session.id, turn)
        assert refused.value.http_status == 422
        assert sessions.messages("default", session.id) == []  # nothing half-written
