"""`Engine.open` / `mindpilot.open`: the one way every shell opens the whole system."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import mindpilot
from mindpilot.applications.chat import Chat, Sessions
from mindpilot.autopilot import Autopilot, Message
from mindpilot.engine import Engine
from mindpilot.errors import ModelNotFoundError
from mindpilot.mental_process import Knowledge, TaskProfile, open_store
from mindpilot.mental_process.sqlite import SQLiteStore


def test_open_wires_model_store_and_audit_and_closes_what_it_opened(
    tiny_model_dir: Path, tmp_path: Path
) -> None:
    path = tmp_path / "store.db"
    with mindpilot.open(str(tiny_model_dir), store=path) as engine:
        assert engine.store is not None and engine.store.sqlite_path == path
        engine.store.put_task(TaskProfile(name="support"))
        response = engine.respond("hi", task="support", max_new_tokens=2)
        assert engine.audit is not None
        assert engine.audit.get("default", response.audit_id or "").task == "support"
    with pytest.raises(Exception, match="closed"):  # the store file's connection is closed
        engine.store.list("default")


def test_open_leaves_a_store_it_was_given_open(tiny_autopilot: Autopilot, tmp_path: Path) -> None:
    with open_store(tmp_path / "s.db", embedder="hashing") as store:
        with Engine.open(tiny_autopilot, store=store, audit=False) as engine:
            assert engine.store is store and engine.audit is None
        assert store.list("default") == []  # still open


def test_open_without_memory_has_no_store(tiny_autopilot: Autopilot) -> None:
    engine = Engine.open(tiny_autopilot, memory=False)
    assert engine.store is None and engine.audit is None
    assert engine.respond("hi", task="support", max_new_tokens=1).used == ()


def test_a_lazy_engine_names_its_model_before_loading_it(tiny_model_dir: Path) -> None:
    engine = Engine.open(str(tiny_model_dir), memory=False, lazy=True)
    assert engine.model_name == tiny_model_dir.name
    assert engine._autopilot is None  # not loaded by naming it
    assert engine.autopilot.model_name == tiny_model_dir.name  # loaded on first use


def test_a_wrong_model_fails_at_open_and_leaves_nothing_open(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFoundError):
        Engine.open(str(tmp_path / "no-such-model"), store=tmp_path / "s.db")


class CountingStore(SQLiteStore):
    """The real SQLite store, counting its searches."""

    searches = 0

    def search(self, *args: Any, **kwargs: Any) -> Any:
        self.searches += 1
        return super().search(*args, **kwargs)


def test_chat_trims_a_long_history_without_searching_again(
    tiny_autopilot: Autopilot, tmp_path: Path
) -> None:
    store = CountingStore(tmp_path / "chat.db", embedder="hashing")
    store.put_task(TaskProfile(name="support", retrieval=_no_decoding()))
    store.add(Knowledge(domain="net", text="Router resets take two minutes."))
    with Sessions(store) as sessions:
        session = sessions.create("default", "support")
        for i in range(12):  # more history than the tiny model's 256-token window holds
            sessions.append("default", session.id, Message("user", f"question {i} " + "w " * 10))
            sessions.append("default", session.id, Message("assistant", f"answer {i} " + "o " * 9))
        chat = Chat(Engine(tiny_autopilot, store), sessions)
        before = store.searches
        response = chat.send(session.id, "How long do router resets take?", max_new_tokens=8)
    searches = store.searches - before
    store.close()
    assert "question 0 " not in " ".join(m.content for m in response.prompt)  # it was trimmed
    assert searches == 2  # one search per kind (knowledge, experiences), not one per trim


def _no_decoding() -> Any:
    from mindpilot.mental_process import RetrievalSettings

    return RetrievalSettings(decode_retrievals=0)
