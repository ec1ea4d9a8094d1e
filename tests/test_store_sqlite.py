"""What is particular to the embedded SQLite store: its file, migrations, processes, vectors."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from mindpilot.errors import ConfigError, ConflictError
from mindpilot.mental_process import Knowledge, open_store
from mindpilot.mental_process.embed import Embedder, get_embedder
from mindpilot.mental_process.sqlite import SQLiteStore
from mindpilot.mental_process.sqlite.schema import MIGRATIONS, migrate, split_statements
from mindpilot.plugins import STORES


def run_python(code: str) -> str:
    """Run code in a fresh interpreter (same environment); return its stdout."""
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_sqlite_is_registered_and_opened_by_path_or_url(tmp_path: Path) -> None:
    assert "sqlite" in STORES.names()
    for target in (tmp_path / "a.db", f"sqlite:///{tmp_path / 'b.db'}"):
        with open_store(target, embedder="hashing") as store:
            assert isinstance(store, SQLiteStore)
    assert (tmp_path / "b.db").exists()
    with pytest.raises(ConfigError, match="unknown store 'nosuch'"):
        open_store("nosuch://host/db")


def test_default_store_lives_under_mindpilot_home(isolated_home: Path, hashing_env: None) -> None:
    with open_store() as store:
        store.add(Knowledge(domain="d", text="t"))
    assert (isolated_home / "mindpilot.db").exists()


def test_file_is_in_wal_mode_with_named_migrations(tmp_path: Path) -> None:
    open_store(tmp_path / "s.db", embedder="hashing").close()
    conn = sqlite3.connect(tmp_path / "s.db")
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    names = [r[0] for r in conn.execute("SELECT name FROM schema_migrations ORDER BY name")]
    assert names == [name for name, _ in MIGRATIONS]


def test_migrations_apply_once_and_in_order(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "m.db", isolation_level=None)
    assert migrate(conn) == [name for name, _ in MIGRATIONS]
    assert migrate(conn) == []
    later = [*MIGRATIONS, ("0099_sessions", "CREATE TABLE sessions (id TEXT PRIMARY KEY);")]
    assert migrate(conn, later) == ["0099_sessions"]
    assert migrate(conn, later) == []
    conn.execute("INSERT INTO sessions VALUES ('s1')")


def test_a_failing_migration_leaves_nothing_behind(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "m.db", isolation_level=None)
    broken = [*MIGRATIONS, ("0099_broken", "CREATE TABLE ok (x);\nCREATE TABLE records (x);")]
    with pytest.raises(sqlite3.OperationalError):
        migrate(conn, broken)
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert "records" not in tables and "ok" not in tables
    assert migrate(conn) == [name for name, _ in MIGRATIONS]


def test_split_statements_keeps_triggers_whole() -> None:
    sql = "CREATE TABLE a (x);\nCREATE TRIGGER t AFTER INSERT ON a BEGIN\n SELECT 1;\nEND;"
    assert len(split_statements(sql)) == 2


def test_vectors_are_float32_blobs_of_the_embedding(tmp_path: Path) -> None:
    with open_store(tmp_path / "s.db", embedder="hashing") as store:
        stored = store.add(Knowledge(domain="d", text="blob check"))
    (blob,) = sqlite3.connect(tmp_path / "s.db").execute("SELECT embedding FROM records").fetchone()
    vector = np.frombuffer(blob, dtype=np.float32)
    expected = get_embedder("hashing").embed([stored.text])[0]
    np.testing.assert_array_equal(vector, expected)


def test_opening_with_another_embedder_is_refused(tmp_path: Path) -> None:
    with open_store(tmp_path / "s.db", embedder="hashing") as store:
        store.add(Knowledge(domain="d", text="t"))

    class Other:
        name, dim = "other", 8

        def embed(self, texts: list[str]) -> np.ndarray:
            return np.ones((len(texts), 8), dtype=np.float32) / np.sqrt(8)

    with open_store(tmp_path / "s.db", embedder=Other()) as store:
        with pytest.raises(ConflictError, match="embedded with 'hashing:384'"):
            store.add(Knowledge(domain="d", text="t"))
        assert len(store.list("default")) == 1  # reading needs no embedder


def test_index_catches_up_with_another_connections_writes(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    with (
        open_store(path, embedder="hashing") as reader,
        open_store(path, embedder="hashing") as writer,
    ):
        first = reader.add(Knowledge(domain="d", text="apples are red"))
        assert reader.search("default", "apples", mode="vector", k=5)[0].record.id == first.id
        second = writer.add(Knowledge(domain="d", text="bananas are yellow"))
        writer.delete("default", first.id)
        reader.add(Knowledge(domain="d", text="cherries are dark"))  # a write of its own, too
        hits = reader.search("default", "bananas yellow", mode="vector", k=5)
        assert hits[0].record.id == second.id
        assert first.id not in {h.record.id for h in hits}


def test_index_follows_own_writes_without_rebuilding(tmp_path: Path) -> None:
    with open_store(tmp_path / "s.db", embedder="hashing") as store:
        assert isinstance(store, SQLiteStore)
        store.add(Knowledge(domain="d", text="first"))
        store.search("default", "first")
        index = store._indexes["default"][1]
        added = store.add(Knowledge(domain="d", text="second"))
        assert store.search("default", "second", mode="vector", k=1)[0].record.id == added.id
        assert store._indexes["default"][1] is index and len(index) == 2


def test_semantic_search_finds_paraphrases(tmp_path: Path, minilm: Embedder) -> None:
    facts = {
        "refund": "Customers can get their money back within 30 days of purchase.",
        "hours": "The support desk is staffed from 9am to 5pm on weekdays.",
        "password": "To change your login credentials, open Settings and choose Security.",
        "shipping": "Parcels usually arrive three to five business days after dispatch.",
        "ml": "Supervised learning fits a model to labelled examples.",
    }
    questions = {
        "refund": "How do I return an item and be reimbursed?",
        "hours": "When is customer service open?",
        "password": "I forgot how to reset my password",
        "shipping": "How long does delivery take?",
        "ml": "What is training on annotated data called?",
    }
    with open_store(tmp_path / "s.db", embedder=minilm) as store:
        ids = {key: store.add(Knowledge(domain="faq", text=text)).id for key, text in facts.items()}
        for key, question in questions.items():
            hits = store.search("default", question, mode="vector", k=3)
            assert hits[0].record.id == ids[key], question
            assert hits[0].similarity > 0.3
            # Hybrid is not asserted here: on five records, incidental keyword matches
            # ("open", "customer") outrank a paraphrase that shares no word with the query.
