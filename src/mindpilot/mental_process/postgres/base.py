"""The state every part of the PostgreSQL store shares: the connection pool, the embedder, and
the write batch. The store's methods live in mixins on `PostgresBase` (rows.py, records.py,
search.py, history.py), assembled in store.py."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import psycopg

from mindpilot.errors import ConflictError, PayloadTooLargeError, ValidationError
from mindpilot.mental_process.postgres.ann import AnnIndex
from mindpilot.mental_process.postgres.connection import Connections, first_connection, redacted
from mindpilot.mental_process.postgres.keywords import WordShares
from mindpilot.mental_process.postgres.schema import bind_embedder, ensure_pgvector, migrate
from mindpilot.mental_process.records import Record, check_namespace
from mindpilot.mental_process.store import DEFAULT_MAX_RECORD_CHARS, Store, resolve_embedder

if TYPE_CHECKING:
    from mindpilot.mental_process.embed import Embedder

EMBED_BATCH = 64
# The namespace's next batch number; the upsert locks its row until the transaction ends.
NEXT_BATCH = (
    "INSERT INTO namespace_state VALUES (%s, 1) ON CONFLICT (namespace)"
    " DO UPDATE SET batch = namespace_state.batch + 1 RETURNING batch"
)


@dataclass
class Batch:
    """One write transaction: its connection, and its batch number in the namespace."""

    conn: psycopg.Connection
    namespace: str
    number: int
    actor: str
    at: float


def check_actor(actor: object) -> str:
    if not isinstance(actor, str) or not actor.strip():
        raise ValidationError("actor must be a non-empty string", hint='e.g. actor="cli"')
    return actor


class PostgresBase(Store):
    """Connects (migrating the database) and holds the state the mixins share.

    Thread-safe: each call takes its own connection from the pool (`pool_size` at most)."""

    def __init__(
        self,
        url: str,
        *,
        embedder: Embedder | str | None = None,
        max_record_chars: int = DEFAULT_MAX_RECORD_CHARS,
        ann_threshold: int = 2_000,  # an exact scan in PostgreSQL: ~1.2 us a row (2 cores)
        pool_size: int = 8,
    ) -> None:
        self.url = url
        self.max_record_chars = max_record_chars
        self._ann_threshold = ann_threshold
        self._embedder_arg = embedder
        self._embedder: Embedder | None = None
        self._lock = threading.Lock()
        with first_connection(url) as conn:
            where = redacted(url)
            ensure_pgvector(conn, where)
            migrate(conn, where)
        self._db = Connections(url, max_size=pool_size)
        self._ann = AnnIndex(url)
        self._shares = WordShares()

    @property
    def where(self) -> str:
        """The database, as it may be shown (no password)."""
        return self._db.where

    # ---- embedding --------------------------------------------------------------------------
    @property
    def embedder(self) -> Embedder:
        """The embedder, created on first use and checked against the one the database was
        made with (the first one binds it: vector(dim) and the HNSW index)."""
        if self._embedder is None:
            embedder = resolve_embedder(self._embedder_arg)
            tag = f"{embedder.name}:{embedder.dim}"
            with self._db.use() as conn:
                stored = bind_embedder(conn, tag, embedder.dim)
            if stored != tag:
                raise ConflictError(
                    f"{self.where} was embedded with {stored!r}, not {tag!r}",
                    hint=f"open it with embedder={stored.split(':')[0]!r} "
                    "(or set MINDPILOT_EMBEDDER to it)",
                )
            with self._lock:
                self._embedder = embedder
        return self._embedder

    def _embed(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray:
        """(n, dim) float32 unit rows, in batches (with a progress bar if asked)."""
        embedder = self.embedder
        starts = range(0, len(texts), EMBED_BATCH)
        if progress and len(texts) > EMBED_BATCH:
            from rich.progress import track

            starts = track(starts, description="embedding", transient=True)  # type: ignore[assignment]
        parts = [embedder.embed(list(texts[s : s + EMBED_BATCH])) for s in starts]
        if not parts:
            return np.empty((0, embedder.dim), dtype=np.float32)
        return np.ascontiguousarray(np.concatenate(parts), dtype=np.float32)

    def _check_size(self, item: Record) -> None:
        if item.size > self.max_record_chars:
            raise PayloadTooLargeError(
                f"{item.kind} record has {item.size} characters, over the limit of "
                f"{self.max_record_chars}",
                hint="split it (`mindpilot memory ingest` chunks documents) "
                "or open the store with a larger max_record_chars",
            )

    # ---- transactions -----------------------------------------------------------------------
    @contextmanager
    def _read(self) -> Iterator[psycopg.Connection]:
        """One snapshot for several queries (REPEATABLE READ, read only: psycopg says so in
        its BEGIN, no round trip of its own)."""
        with self._db.use() as conn:
            conn.isolation_level, conn.read_only = psycopg.IsolationLevel.REPEATABLE_READ, True
            try:
                with conn.transaction():
                    yield conn
            finally:
                conn.isolation_level, conn.read_only = None, None  # the server's default again

    @contextmanager
    def _query(self) -> Iterator[psycopg.Connection]:
        """A connection for one statement (autocommit: its own snapshot)."""
        with self._db.use() as conn:
            yield conn

    @contextmanager
    def _write(self, namespace: str, actor: str) -> Iterator[Batch]:
        """One READ COMMITTED transaction holding the namespace's lock: its `namespace_state`
        row, locked by the upsert that takes the batch number. Writes to one namespace so run
        one after another (each sees the last one's commit: no lost update); different
        namespaces write in parallel. An exception rolls everything back."""
        check_namespace(namespace)
        check_actor(actor)
        with self._db.use() as conn, conn.transaction():
            row = conn.execute(NEXT_BATCH, (namespace,)).fetchone()
            assert row is not None
            yield Batch(conn, namespace, int(row[0]), actor, time.time())

    def build_vector_index(self) -> bool:
        """Build the HNSW index now (ann.py), e.g. after a bulk load, rather than in the
        background after the first big search; False if another process is building it."""
        return self._ann.build()

    def close(self) -> None:
        self._db.close()
