"""The embedded store: one SQLite file (WAL), FTS5 for keywords, float32 blobs for vectors.

SQLite is the source of truth. Each namespace's vector index is derived from the blobs on
first search and kept in step with this process's writes; a per-namespace generation counter
(bumped by every write transaction) tells when another process wrote, and the index is then
rebuilt from the file. Searches read inside one transaction, so index and rows agree.
"""

from __future__ import annotations

import builtins
import dataclasses
import json
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from mindpilot.errors import ConflictError, NotFoundError, PayloadTooLargeError, ValidationError
from mindpilot.mental_process.records import (
    KINDS,
    UPDATABLE,
    Change,
    Emotion,
    Experience,
    Hit,
    Kind,
    Knowledge,
    Op,
    Record,
    TaskProfile,
    check_namespace,
    new_id,
)
from mindpilot.mental_process.sqlite_query import (
    ATTRIBUTES,
    CHANGE_COLUMNS,
    NameCodes,
    change_from_row,
    check_unique,
    filters,
    from_json,
    fuse,
    keyword_ranking,
    row_filter,
    to_json,
    unit_rows,
)
from mindpilot.mental_process.sqlite_schema import migrate
from mindpilot.mental_process.store import (
    DEFAULT_MAX_RECORD_CHARS,
    SEARCH_MODES,
    STORES,
    SearchMode,
    Store,
    resolve_embedder,
)

if TYPE_CHECKING:
    from mindpilot.mental_process.embed import Embedder
    from mindpilot.mental_process.index import VectorIndex

EMBED_BATCH = 64


@dataclass
class _Batch:
    """One write transaction: its batch number, and the vector index changes to apply after
    it commits (row seq -> (vector, row attributes), or None to remove)."""

    namespace: str
    number: int
    actor: str
    at: float
    index_ops: dict[int, tuple[np.ndarray, tuple[int, ...]] | None] = field(default_factory=dict)


def _check_actor(actor: object) -> str:
    if not isinstance(actor, str) or not actor.strip():
        raise ValidationError("actor must be a non-empty string", hint='e.g. actor="cli"')
    return actor


@STORES.register("sqlite")
class SQLiteStore(Store):
    """The embedded store. Thread-safe (one connection behind a lock); several processes may
    share the file (WAL; writers wait up to `busy_timeout_s` for each other)."""

    def __init__(
        self,
        path: str | Path,
        *,
        embedder: Embedder | str | None = None,
        max_record_chars: int = DEFAULT_MAX_RECORD_CHARS,
        busy_timeout_s: float = 30.0,
        ann_threshold: int = 20_000,
    ) -> None:
        self.path = Path(path).expanduser()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.max_record_chars = max_record_chars
        self._ann_threshold = ann_threshold
        self._embedder_arg = embedder
        self._embedder: Embedder | None = None
        self._lock = threading.RLock()
        self._indexes: dict[str, tuple[int, VectorIndex]] = {}  # namespace -> (generation, index)
        self._names = NameCodes()  # domain/task codes in the indexes' row attributes
        self._conn = sqlite3.connect(
            self.path, isolation_level=None, check_same_thread=False, timeout=busy_timeout_s
        )
        self._conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_s * 1000)}")
        self._conn.execute("PRAGMA journal_mode = WAL")
        self._conn.execute("PRAGMA synchronous = NORMAL")  # durable at checkpoints; safe in WAL
        migrate(self._conn)

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

    # ---- transactions -----------------------------------------------------------------------
    @contextmanager
    def _write(self, namespace: str, actor: str) -> Iterator[_Batch]:
        """BEGIN IMMEDIATE ... COMMIT; the vector index follows after the commit."""
        check_namespace(namespace)
        _check_actor(actor)
        with self._lock:
            conn = self._conn
            conn.execute("BEGIN IMMEDIATE")
            try:
                (last,) = conn.execute(
                    "SELECT coalesce(max(batch), 0) FROM changes WHERE namespace = ?", (namespace,)
                ).fetchone()
                batch = _Batch(namespace, last + 1, actor, time.time())
                yield batch
                generation = self._generation(namespace)
                conn.execute(
                    "INSERT INTO namespace_state VALUES (?, 1) ON CONFLICT (namespace) "
                    "DO UPDATE SET generation = generation + 1",
                    (namespace,),
                )
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            self._follow(batch, generation)

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        """A consistent snapshot for several queries."""
        with self._lock:
            self._conn.execute("BEGIN")
            try:
                yield self._conn
            finally:
                self._conn.execute("COMMIT")

    def _generation(self, namespace: str) -> int:
        row = self._conn.execute(
            "SELECT generation FROM namespace_state WHERE namespace = ?", (namespace,)
        ).fetchone()
        return row[0] if row else 0

    def _follow(self, batch: _Batch, generation_before: int) -> None:
        """Apply a committed batch to the cached index, or drop the index if another process
        wrote since it was built (it is rebuilt on the next search)."""
        cached = self._indexes.get(batch.namespace)
        if cached is None:
            return
        if cached[0] != generation_before:
            del self._indexes[batch.namespace]
            return
        index = cached[1]
        removed = [seq for seq, op in batch.index_ops.items() if op is None]
        added = {seq: op for seq, op in batch.index_ops.items() if op is not None}
        if removed:
            index.remove(removed)
        if added:
            ops = list(added.values())
            index.add(list(added), np.stack([v for v, _ in ops]), np.array([a for _, a in ops]))
        self._indexes[batch.namespace] = (generation_before + 1, index)

    def _index(self, namespace: str) -> VectorIndex:
        """The namespace's vector index of current records, (re)built if stale. Call inside
        `_read` so that it matches the rows read next."""
        from mindpilot.mental_process.index import VectorIndex

        generation = self._generation(namespace)
        cached = self._indexes.get(namespace)
        if cached is not None and cached[0] == generation:
            return cached[1]
        dim = self.embedder.dim
        index = VectorIndex(dim, ann_threshold=self._ann_threshold, attributes=ATTRIBUTES)
        rows = self._conn.execute(
            "SELECT seq, embedding, kind, domain, task FROM records"
            " WHERE namespace = ? AND superseded_by IS NULL",
            (namespace,),
        ).fetchall()
        if rows:
            matrix = np.frombuffer(b"".join(r[1] for r in rows), dtype=np.float32)
            attrs = np.array([self._names.attributes(*r[2:]) for r in rows], dtype=np.int64)
            index.add([r[0] for r in rows], matrix.reshape(len(rows), dim), attrs)
        self._indexes[namespace] = (generation, index)
        return index

    # ---- row helpers (inside a write transaction) -------------------------------------------
    def _row(self, namespace: str, record_id: str) -> tuple[int, Record, bytes] | None:
        row = self._conn.execute(
            "SELECT seq, body, embedding FROM records WHERE namespace = ? AND id = ?",
            (namespace, record_id),
        ).fetchone()
        return None if row is None else (row[0], from_json(row[1]), row[2])

    def _require(self, namespace: str, record_id: str) -> tuple[int, Record, bytes]:
        check_namespace(namespace)
        found = self._row(namespace, record_id)
        if found is None:
            raise NotFoundError(
                f"no record {record_id!r} in namespace {namespace!r}",
                hint="list ids with `mindpilot memory list`",
            )
        return found

    def _put(self, batch: _Batch, record: Record, vector: bytes, seq: int | None = None) -> int:
        """Insert (seq None) or overwrite a row; queue the index change."""
        values = (
            record.namespace, record.id, record.kind, getattr(record, "domain", None),
            getattr(record, "task", None), json.dumps(list(getattr(record, "tags", ()))),
            record.search_text, to_json(record), record.version, record.created_at,
            record.updated_at, getattr(record, "superseded_by", None), vector,
        )  # fmt: skip
        if seq is None:
            cursor = self._conn.execute(
                "INSERT INTO records (namespace, id, kind, domain, task, tags, text, body, version,"
                " created_at, updated_at, superseded_by, embedding)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                values,
            )
            seq = int(cursor.lastrowid or 0)
        else:
            self._conn.execute(
                "UPDATE records SET namespace = ?, id = ?, kind = ?, domain = ?, task = ?,"
                " tags = ?, text = ?, body = ?, version = ?, created_at = ?, updated_at = ?,"
                " superseded_by = ?, embedding = ? WHERE seq = ?",
                (*values, seq),
            )
        current = getattr(record, "superseded_by", None) is None
        attrs = self._names.attributes(record.kind, values[3], values[4])
        batch.index_ops[seq] = (np.frombuffer(vector, np.float32), attrs) if current else None
        return seq

    def _remove(self, batch: _Batch, seq: int) -> None:
        self._conn.execute("DELETE FROM records WHERE seq = ?", (seq,))
        batch.index_ops[seq] = None

    def _log(
        self,
        batch: _Batch,
        op: Op,
        record_id: str,
        kind: str,
        before: Record | TaskProfile | None,
        after: Record | TaskProfile | None,
        before_vector: bytes | None = None,
    ) -> None:
        self._conn.execute(
            "INSERT INTO changes (namespace, record_id, kind, op, actor, at, batch, before, after,"
            " before_vector) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (batch.namespace, record_id, kind, op, batch.actor, batch.at, batch.number,
             to_json(before), to_json(after), before_vector),
        )  # fmt: skip

    def _mark_superseded(self, batch: _Batch, seq: int, old: Record, by: str, vec: bytes) -> None:
        changes: dict[str, Any] = {"superseded_by": by, "version": old.version + 1}
        newer = dataclasses.replace(old, **changes, updated_at=batch.at)
        self._put(batch, newer, vec, seq)
        self._log(batch, "supersede", old.id, old.kind, old, newer, vec)

    def _insert_new(self, batch: _Batch, record: Record, vector: bytes) -> Record:
        """Stamp and insert a new record; a new emotion supersedes the task's current one."""
        if record.id and self._row(batch.namespace, record.id) is not None:
            raise ConflictError(
                f"record {record.id!r} already exists in namespace {batch.namespace!r}",
                hint="leave id empty to get a fresh one, or use update",
            )
        stamped = dataclasses.replace(
            record, id=record.id or new_id(record.kind), version=1,
            created_at=batch.at, updated_at=batch.at,
        )  # fmt: skip
        if isinstance(stamped, Emotion):
            for seq, old, vec in self._current_emotions(batch.namespace, stamped.task):
                self._mark_superseded(batch, seq, old, stamped.id, vec)
        self._put(batch, stamped, vector)
        self._log(batch, "add", stamped.id, stamped.kind, None, stamped)
        return stamped

    def _current_emotions(
        self, namespace: str, task: str
    ) -> builtins.list[tuple[int, Record, bytes]]:
        rows = self._conn.execute(
            "SELECT seq, body, embedding FROM records WHERE namespace = ? AND kind = 'emotion'"
            " AND task = ? AND superseded_by IS NULL ORDER BY created_at DESC, seq DESC",
            (namespace, task),
        ).fetchall()
        return [(r[0], from_json(r[1]), r[2]) for r in rows]

    # ---- records ----------------------------------------------------------------------------
    def add(self, record: Record, *, actor: str = "user") -> Record:
        return self.add_many([record], actor=actor)[0]

    def add_many(
        self,
        records: Sequence[Record],
        *,
        actor: str = "user",
        progress: bool = False,
        vectors: np.ndarray | None = None,
    ) -> builtins.list[Record]:
        records = list(records)
        if not records:
            return []
        for record in records:
            if not isinstance(record, Knowledge | Emotion | Experience):
                raise ValidationError(
                    f"cannot store a {type(record).__name__}", hint="pass records"
                )
            self._check_size(record)
        namespaces = {r.namespace for r in records}
        if len(namespaces) > 1:
            raise ValidationError(
                f"add_many got records of {len(namespaces)} namespaces",
                hint="call it once per namespace",
            )
        if vectors is None:
            vectors = self._embed([r.embed_text for r in records], progress=progress)
        else:
            vectors = unit_rows(vectors, len(records), self.embedder.dim)
        with self._write(records[0].namespace, actor) as batch:
            return [
                self._insert_new(batch, r, v.tobytes())
                for r, v in zip(records, vectors, strict=True)
            ]

    def get(self, namespace: str, record_id: str) -> Record:
        with self._lock:
            return self._require(namespace, record_id)[1]

    def update(
        self, namespace: str, record_id: str, *, actor: str = "user", **fields: object
    ) -> Record:
        old = self.get(namespace, record_id)
        allowed = UPDATABLE[old.kind]
        unknown = sorted(set(fields) - allowed)
        if unknown or not fields:
            raise ValidationError(
                f"cannot update {', '.join(unknown) or 'nothing'} of a {old.kind} record",
                hint=f"updatable fields: {', '.join(sorted(allowed))}"
                + ("; experiences are append-only" if old.kind == "experience" else ""),
            )
        if getattr(old, "superseded_by", None):
            raise ConflictError(
                f"record {record_id!r} was superseded by {old.superseded_by!r}",  # type: ignore[union-attr]
                hint="update the newer record instead",
            )
        new = dataclasses.replace(old, **fields, version=old.version + 1)  # type: ignore[arg-type]
        self._check_size(new)
        vector = self._embed([new.embed_text]) if new.embed_text != old.embed_text else None
        with self._write(namespace, actor) as batch:
            seq, current, vec = self._require(namespace, record_id)
            if current != old:
                raise ConflictError(f"record {record_id!r} changed meanwhile", hint="try again")
            new = dataclasses.replace(new, updated_at=batch.at)
            self._put(batch, new, vec if vector is None else vector[0].tobytes(), seq)
            self._log(batch, "update", record_id, new.kind, old, new, vec)
        return new

    def supersede(
        self, namespace: str, old_id: str, new_record: Record, *, actor: str = "user"
    ) -> Record:
        if not isinstance(new_record, Knowledge):
            raise ValidationError("only knowledge records can be superseded", hint="use update")
        new_record = dataclasses.replace(new_record, namespace=namespace)
        self._check_size(new_record)
        vector = self._embed([new_record.embed_text])[0].tobytes()
        with self._write(namespace, actor) as batch:
            seq, old, vec = self._require(namespace, old_id)
            if not isinstance(old, Knowledge):
                raise ValidationError(f"record {old_id!r} is {old.kind}, not knowledge")
            if old.superseded_by:
                raise ConflictError(
                    f"record {old_id!r} was already superseded by {old.superseded_by!r}",
                    hint="supersede the newer record instead",
                )
            stored = self._insert_new(batch, new_record, vector)
            self._mark_superseded(batch, seq, old, stored.id, vec)
        return stored

    def delete(self, namespace: str, record_id: str, *, actor: str = "user") -> None:
        with self._write(namespace, actor) as batch:
            seq, old, vec = self._require(namespace, record_id)
            self._remove(batch, seq)
            self._log(batch, "delete", record_id, old.kind, old, None, vec)

    def list(
        self,
        namespace: str,
        *,
        kind: Kind | None = None,
        domain: str | None = None,
        task: str | None = None,
        tags: Sequence[str] = (),
        since: float | None = None,
        until: float | None = None,
        include_superseded: bool = False,
        limit: int | None = 100,
        offset: int = 0,
    ) -> builtins.list[Record]:
        where, params = filters(
            namespace, kinds=None if kind is None else [kind],
            domains=None if domain is None else [domain], tasks=None if task is None else [task],
            tags=tags, since=since, until=until, strict=True, current=not include_superseded,
        )  # fmt: skip
        if (limit is not None and limit < 0) or offset < 0:
            raise ValidationError("limit and offset must not be negative")
        sql = f"SELECT body FROM records r WHERE {where} ORDER BY created_at DESC, seq DESC"
        sql += " LIMIT ? OFFSET ?"
        with self._lock:
            rows = self._conn.execute(sql, (*params, -1 if limit is None else limit, offset))
            return [from_json(r[0]) for r in rows.fetchall()]

    def current_emotion(self, namespace: str, task: str) -> Emotion | None:
        check_namespace(namespace)
        with self._lock:
            found = self._current_emotions(namespace, task)
        return found[0][1] if found else None  # type: ignore[return-value]

    def namespaces(self) -> builtins.list[str]:
        with self._lock:
            rows = self._conn.execute(
                "SELECT DISTINCT namespace FROM records"
                " UNION SELECT namespace FROM tasks ORDER BY 1"
            ).fetchall()
        return [r[0] for r in rows]

    # ---- search -----------------------------------------------------------------------------
    def search(
        self,
        namespace: str,
        query: str,
        *,
        kinds: Sequence[Kind] = KINDS,
        domains: Sequence[str] | None = None,
        tasks: Sequence[str] | None = None,
        tags: Sequence[str] = (),
        since: float | None = None,
        until: float | None = None,
        k: int = 10,
        mode: SearchMode = "hybrid",
        query_vector: np.ndarray | None = None,
    ) -> builtins.list[Hit]:
        if not isinstance(query, str) or not query.strip():
            raise ValidationError("the search query is empty", hint="give some words to search for")
        if mode not in SEARCH_MODES:
            raise ValidationError(
                f"unknown search mode {mode!r}", hint=f"use one of {SEARCH_MODES}"
            )
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise ValidationError(f"k={k!r} must be a whole number >= 1")
        where, params = filters(
            namespace, kinds=kinds, domains=domains, tasks=tasks, tags=tags,
            since=since, until=until, strict=False, current=True,
        )  # fmt: skip
        qvec = self._query_vector(query, query_vector)
        depth = max(3 * k, 30)  # candidates per ranking before fusion
        # kinds/domains/tasks filter in memory (index row attributes); tags and dates in SQL
        in_sql = bool(tags) or since is not None or until is not None
        scoped = set(kinds) != set(KINDS) or domains is not None or tasks is not None
        with self._read() as conn:
            index = self._index(namespace)
            by_vector: builtins.list[tuple[int, float]] = []
            by_keyword: builtins.list[tuple[int, float]] = []
            if mode != "keyword":
                allowed, keep = None, None
                if in_sql:
                    rows = conn.execute(f"SELECT seq FROM records r WHERE {where}", params)
                    allowed = np.fromiter((r[0] for r in rows), dtype=np.int64)
                elif scoped:
                    keep = row_filter(self._names, kinds, domains, tasks)
                by_vector = index.search(qvec, depth, allowed, where=keep)
            if mode != "vector":
                by_keyword = keyword_ranking(
                    conn, query, where, params, depth, selective=in_sql or scoped
                )
            ranked = fuse(by_vector, by_keyword, mode, k)
            if not ranked:
                return []
            seqs = [seq for seq, _ in ranked]
            marks = ",".join("?" * len(seqs))
            bodies = dict(
                conn.execute(f"SELECT seq, body FROM records WHERE seq IN ({marks})", seqs)
            )
            similarity = index.similarity(qvec, seqs)
        vec_rank = {seq: i for i, (seq, _) in enumerate(by_vector, start=1)}
        kw = {seq: (i, s) for i, (seq, s) in enumerate(by_keyword, start=1)}
        return [
            Hit(
                record=from_json(bodies[seq]),
                score=score if mode != "vector" else float(similarity[i]),
                similarity=float(similarity[i]),
                keyword_score=kw[seq][1] if seq in kw else None,
                keyword_rank=kw[seq][0] if seq in kw else None,
                vector_rank=vec_rank.get(seq),
            )
            for i, (seq, score) in enumerate(ranked)
        ]

    def _query_vector(self, query: str, given: np.ndarray | None) -> np.ndarray:
        dim = self.embedder.dim
        if given is None:
            return self._embed([query])[0]
        vector = np.asarray(given, dtype=np.float32).reshape(-1)
        if vector.shape != (dim,):
            raise ValidationError(f"query_vector has shape {np.shape(given)}, expected ({dim},)")
        norm = float(np.linalg.norm(vector))
        return vector / norm if norm > 0 else vector

    # ---- history ----------------------------------------------------------------------------
    def history(self, namespace: str, record_id: str) -> builtins.list[Change]:
        check_namespace(namespace)
        with self._lock:
            rows = self._conn.execute(
                f"SELECT {CHANGE_COLUMNS} FROM changes WHERE namespace = ? AND record_id = ?"
                " ORDER BY seq",
                (namespace, record_id),
            ).fetchall()
        if not rows:
            raise NotFoundError(f"no history for {record_id!r} in namespace {namespace!r}")
        return [change_from_row(r) for r in rows]

    def undo(self, namespace: str, *, actor: str = "user") -> builtins.list[Change]:
        with self._write(namespace, actor) as batch:
            (target,) = self._conn.execute(
                "SELECT max(batch) FROM changes"
                " WHERE namespace = ? AND undone = 0 AND op != 'undo'",
                (namespace,),
            ).fetchone()
            if target is None:
                raise NotFoundError(f"nothing to undo in namespace {namespace!r}")
            rows = self._conn.execute(
                f"SELECT {CHANGE_COLUMNS}, before_vector FROM changes"
                " WHERE namespace = ? AND batch = ? ORDER BY seq DESC",
                (namespace, target),
            ).fetchall()
            for row in rows:
                self._revert(batch, change_from_row(row[:-1]), row[-1])
            self._conn.execute(
                "UPDATE changes SET undone = 1 WHERE namespace = ? AND batch = ?",
                (namespace, target),
            )
        return [dataclasses.replace(change_from_row(r[:-1]), undone=True) for r in rows]

    def _revert(self, batch: _Batch, change: Change, before_vector: bytes | None) -> None:
        """Put one item back in its `before` state, logging an "undo" change."""
        if change.kind == "task":
            name = change.record_id.removeprefix("task:")
            current = self._task(batch.namespace, name)
            self._conn.execute(
                "DELETE FROM tasks WHERE namespace = ? AND name = ?", (batch.namespace, name)
            )
            if isinstance(change.before, TaskProfile):
                self._write_task(change.before)
            self._log(batch, "undo", change.record_id, "task", current, change.before)
            return
        found = self._row(batch.namespace, change.record_id)
        before: Any = change.before
        if before is None:
            if found is not None:
                self._remove(batch, found[0])
        else:
            assert before_vector is not None  # every change with a before state keeps its vector
            self._put(batch, before, before_vector, None if found is None else found[0])
        self._log(
            batch, "undo", change.record_id, change.kind, found and found[1], before,
            found and found[2],
        )  # fmt: skip

    def delete_scope(
        self,
        namespace: str,
        *,
        task: str | None = None,
        domain: str | None = None,
        actor: str = "user",
    ) -> int:
        if task is not None and domain is not None:
            raise ValidationError("give a task or a domain, not both", hint="delete one at a time")
        sql, params = "namespace = ?", [namespace]
        if task is not None:
            sql, params = sql + " AND task = ?", [*params, task]
        elif domain is not None:
            sql, params = sql + " AND kind = 'knowledge' AND domain = ?", [*params, domain]
        with self._write(namespace, actor) as batch:
            rows = self._conn.execute(
                f"SELECT seq, body, embedding FROM records WHERE {sql}", params
            ).fetchall()
            for seq, body, vec in rows:
                old = from_json(body)
                self._remove(batch, seq)
                self._log(batch, "delete", old.id, old.kind, old, None, vec)
            names = [] if domain is not None else [t.name for t in self._tasks(namespace, task)]
            for name in names:
                self._delete_task(batch, name)
            if not rows and not names:
                scope = (
                    f"task {task!r}"
                    if task
                    else f"domain {domain!r}"
                    if domain
                    else "records or tasks"
                )
                raise NotFoundError(
                    f"namespace {namespace!r} has no {scope} to delete",
                    hint=f"known namespaces: {', '.join(self.namespaces()) or 'none'}",
                )
        return len(rows) + len(names)

    # ---- task profiles ----------------------------------------------------------------------
    def _task(self, namespace: str, name: str) -> TaskProfile | None:
        row = self._conn.execute(
            "SELECT body FROM tasks WHERE namespace = ? AND name = ?", (namespace, name)
        ).fetchone()
        return None if row is None else from_json(row[0])

    def _tasks(self, namespace: str, name: str | None = None) -> builtins.list[TaskProfile]:
        sql, params = "SELECT body FROM tasks WHERE namespace = ?", [namespace]
        if name is not None:
            sql, params = sql + " AND name = ?", [*params, name]
        return [from_json(r[0]) for r in self._conn.execute(sql + " ORDER BY name", params)]

    def _write_task(self, profile: TaskProfile) -> None:
        self._conn.execute(
            "INSERT OR REPLACE INTO tasks VALUES (?, ?, ?)",
            (profile.namespace, profile.name, to_json(profile)),
        )

    def _delete_task(self, batch: _Batch, name: str) -> None:
        old = self._task(batch.namespace, name)
        self._conn.execute(
            "DELETE FROM tasks WHERE namespace = ? AND name = ?", (batch.namespace, name)
        )
        self._log(batch, "delete", f"task:{name}", "task", old, None)

    def put_task(self, profile: TaskProfile, *, actor: str = "user") -> TaskProfile:
        if not isinstance(profile, TaskProfile):
            raise ValidationError(f"expected a TaskProfile, got {type(profile).__name__}")
        with self._write(profile.namespace, actor) as batch:
            old = self._task(profile.namespace, profile.name)
            new = dataclasses.replace(
                profile, version=(old.version if old else 0) + 1,
                created_at=old.created_at if old else batch.at, updated_at=batch.at,
            )  # fmt: skip
            self._write_task(new)
            self._log(batch, "update" if old else "add", f"task:{new.name}", "task", old, new)
        return new

    def get_task(self, namespace: str, name: str) -> TaskProfile:
        check_namespace(namespace)
        with self._lock:
            found = self._task(namespace, name)
            if found is None:
                known = ", ".join(t.name for t in self._tasks(namespace)) or "none"
                raise NotFoundError(
                    f"no task {name!r} in namespace {namespace!r}",
                    hint=f"known tasks: {known}; create one with `mindpilot task create`",
                )
        return found

    def list_tasks(self, namespace: str) -> builtins.list[TaskProfile]:
        check_namespace(namespace)
        with self._lock:
            return self._tasks(namespace)

    def delete_task(self, namespace: str, name: str, *, actor: str = "user") -> None:
        self.get_task(namespace, name)
        with self._write(namespace, actor) as batch:
            self._delete_task(batch, name)

    # ---- exchange ---------------------------------------------------------------------------
    def import_records(
        self,
        namespace: str,
        records: Sequence[Record],
        tasks: Sequence[TaskProfile],
        *,
        actor: str = "user",
    ) -> int:
        check_namespace(namespace)
        now = time.time()
        records = [
            dataclasses.replace(
                r, namespace=namespace, id=r.id or new_id(r.kind), version=r.version or 1,
                created_at=r.created_at or now, updated_at=r.updated_at or now,
            )
            for r in records
        ]  # fmt: skip
        tasks = [dataclasses.replace(t, namespace=namespace, version=t.version or 1) for t in tasks]
        for record in records:
            self._check_size(record)
        check_unique([r.id for r in records], "record id")
        check_unique([t.name for t in tasks], "task")
        vectors = self._embed([r.embed_text for r in records], progress=len(records) > 1000)
        with self._write(namespace, actor) as batch:
            taken = [r.id for r in records if self._row(namespace, r.id) is not None]
            taken += [f"task:{t.name}" for t in tasks if self._task(namespace, t.name)]
            if taken:
                raise ConflictError(
                    f"{len(taken)} item(s) already exist in namespace {namespace!r}, e.g. "
                    f"{', '.join(taken[:3])}; nothing was imported",
                    hint="import into an empty namespace, or delete those first",
                )
            for record, vector in zip(records, vectors, strict=True):
                self._put(batch, record, vector.tobytes())
                self._log(batch, "import", record.id, record.kind, None, record)
            for task in tasks:
                self._write_task(task)
                self._log(batch, "import", f"task:{task.name}", "task", None, task)
        return len(records) + len(tasks)

    @property
    def sqlite_path(self) -> Path:
        return self.path

    def close(self) -> None:
        with self._lock:
            self._conn.close()
            self._indexes.clear()
