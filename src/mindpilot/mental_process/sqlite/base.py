"""The state every part of the SQLite store shares: one connection behind a lock, the
embedder, and the write batch. The store's methods live in mixins built on `SQLiteBase`
(vectors.py, rows.py, records.py, search.py, history.py), assembled in store.py."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from mindpilot.errors import ConfigError, ConflictError, PayloadTooLargeError
from mindpilot.mental_process.records import Record
from mindpilot.mental_process.sqlite.filters import NameCodes
from mindpilot.mental_process.sqlite.graphs import GraphCache
from mindpilot.mental_process.sqlite.keyword_search import WordCounts
from mindpilot.mental_process.sqlite.schema import migrated, open_sqlite
from mindpilot.mental_process.store import DEFAULT_MAX_RECORD_CHARS, Store, resolve_embedder

if TYPE_CHECKING:
    from mindpilot.mental_process.embed import Embedder
    from mindpilot.mental_process.index import VectorIndex

EMBED_BATCH = 64


@dataclass
class Batch:
    """One write transaction: its batch number, and the vector index changes to apply after
    it commits (row seq -> (vector, row attributes), or None to remove)."""

    namespace: str
    number: int
    actor: str
    at: float
    index_ops: dict[int, tuple[np.ndarray, tuple[int, ...]] | None] = field(default_factory=dict)


class SQLiteBase(Store):
    """Opens the file (migrating it) and holds the state the mixins share."""

    def __init__(
        self,
        path: str | Path,
        *,
        embedder: Embedder | str | None = None,
        max_record_chars: int = DEFAULT_MAX_RECORD_CHARS,
        busy_timeout_s: float = 30.0,
        ann_threshold: int = 5_000,
    ) -> None:
        self.path = Path(path).expanduser()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise ConfigError(
                f"cannot create the store's folder {self.path.parent}: {err.strerror}",
                hint="choose a store path in a folder you can write",
            ) from None
        self.max_record_chars = max_record_chars
        self._ann_threshold = ann_threshold
        self._embedder_arg = embedder
        self._embedder: Embedder | None = None
        self._lock = threading.RLock()
        self._indexes: dict[str, tuple[int, VectorIndex]] = {}  # namespace -> (generation, index)
        self._names = NameCodes()  # domain/task codes in the indexes' row attributes
        self._counts = WordCounts()  # records per keyword, for the common-word test
        self._graphs = GraphCache(self.path)  # HNSW graphs saved for the next process
        self._conn = open_sqlite(self.path, busy_timeout_s=busy_timeout_s)
        migrated(self._conn, self.path)

    # ---- embedding --------------------------------------------------------------------------
    @property
    def embedder(self) -> Embedder:
        """The embedder, created on first use and checked against the one the file was made with."""
        if self._embedder is None:
            embedder = resolve_embedder(self._embedder_arg)
            tag = f"{embedder.name}:{embedder.dim}"
            with self._lock:
                self._conn.execute("INSERT OR IGNORE INTO meta VALUES ('embedder', ?)", (tag,))
                (stored,) = self._conn.execute(
                    "SELECT value FROM meta WHERE key = 'embedder'"
                ).fetchone()
            if stored != tag:
                raise ConflictError(
                    f"{self.path} was embedded with {stored!r}, not {tag!r}",
                    hint=f"open it with embedder={stored.split(':')[0]!r} "
                    "(or set MINDPILOT_EMBEDDER to it)",
                )
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

    # ---- reads ------------------------------------------------------------------------------
    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        """A consistent snapshot for several queries."""
        with self._lock:
            self._conn.execute("BEGIN")
            try:
                yield self._conn
            finally:
                self._conn.execute("COMMIT")
