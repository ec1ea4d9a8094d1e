"""Row operations of the PostgreSQL store inside a write transaction (`Batch`): reading a row
for change, `_put`/`_remove`, and `_log` (the `changes` row that history and undo read)."""

from __future__ import annotations

import builtins
import dataclasses
import time
from typing import Any

import numpy as np
import psycopg

from mindpilot.errors import ConflictError, NotFoundError
from mindpilot.mental_process.postgres.base import NEXT_BATCH, Batch, PostgresBase, check_actor
from mindpilot.mental_process.records import Emotion, Op, Record, TaskProfile, check_namespace
from mindpilot.mental_process.row_codecs import from_json, id_taken, stamped_new, to_json

Row = tuple[int, Record, np.ndarray]  # (seq, record, its (dim,) float32 embedding)

COLUMNS = (
    "namespace, id, kind, domain, task, tags, text, body, version, created_at, updated_at,"
    " superseded_by, embedding"
)


def vector_bytes(vector: np.ndarray | None) -> bytes | None:
    return None if vector is None else np.asarray(vector, dtype=np.float32).tobytes()


class Rows(PostgresBase):
    """Row-level reads and writes on a batch's connection (callers are inside `_write`)."""

    def _row(self, conn: psycopg.Connection, namespace: str, record_id: str) -> Row | None:
        row = conn.execute(
            "SELECT seq, body, embedding FROM records WHERE namespace = %s AND id = %s",
            (namespace, record_id),
            binary=True,
        ).fetchone()
        return None if row is None else (row[0], from_json(row[1]), row[2])

    def _require(self, conn: psycopg.Connection, namespace: str, record_id: str) -> Row:
        found = self._row(conn, namespace, record_id)
        if found is None:
            raise NotFoundError(
                f"no record {record_id!r} in namespace {namespace!r}",
                hint="list ids with `mindpilot memory list`",
            )
        return found

    def _put(
        self, batch: Batch, record: Record, vector: np.ndarray, seq: int | None = None
    ) -> None:
        """Insert (seq None) or overwrite a row."""
        values = self._values(record, vector)
        if seq is None:
            batch.conn.execute(
                f"INSERT INTO records ({COLUMNS}) VALUES"
                " (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %b)",
                values,
            )
        else:
            batch.conn.execute(
                f"UPDATE records SET ({COLUMNS}) ="
                " (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %b) WHERE seq = %s",
                (*values, seq),
            )

    @staticmethod
    def _values(record: Record, vector: np.ndarray) -> tuple[Any, ...]:
        """A record's row, in COLUMNS order."""
        return (
            record.namespace, record.id, record.kind, getattr(record, "domain", None),
            getattr(record, "task", None), list(getattr(record, "tags", ())),
            record.search_text, to_json(record), record.version, record.created_at,
            record.updated_at, getattr(record, "superseded_by", None), vector,
        )  # fmt: skip

    def _remove(self, batch: Batch, seq: int) -> None:
        batch.conn.execute("DELETE FROM records WHERE seq = %s", (seq,))

    def _log(
        self,
        batch: Batch,
        op: Op,
        record_id: str,
        kind: str,
        before: Record | TaskProfile | None,
        after: Record | TaskProfile | None,
        before_vector: np.ndarray | None = None,
    ) -> None:
        batch.conn.execute(
            "INSERT INTO changes (namespace, record_id, kind, op, actor, at, batch, before, after,"
            " before_vector) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            (batch.namespace, record_id, kind, op, batch.actor, batch.at, batch.number,
             to_json(before), to_json(after), vector_bytes(before_vector)),
        )  # fmt: skip

    def _mark_superseded(
        self, batch: Batch, seq: int, old: Record, by: str, vec: np.ndarray
    ) -> None:
        changes: dict[str, Any] = {"superseded_by": by, "version": old.version + 1}
        newer = dataclasses.replace(old, **changes, updated_at=batch.at)
        self._put(batch, newer, vec, seq)
        self._log(batch, "supersede", old.id, old.kind, old, newer, vec)

    def _insert_new(self, batch: Batch, record: Record, vector: np.ndarray) -> Record:
        """Stamp and insert a new record; a new emotion supersedes the task's current one."""
        if record.id and self._row(batch.conn, batch.namespace, record.id) is not None:
            raise id_taken(record.id, batch.namespace)
        stamped = stamped_new(record, batch.at)
        if isinstance(stamped, Emotion):
            for seq, old, vec in self._current_emotions(batch.conn, batch.namespace, stamped.task):
                self._mark_superseded(batch, seq, old, stamped.id, vec)
        self._put(batch, stamped, vector)
        self._log(batch, "add", stamped.id, stamped.kind, None, stamped)
        return stamped

    def _add_plain(
        self, namespace: str, actor: str, records: builtins.list[Record], vectors: np.ndarray
    ) -> builtins.list[Record]:
        """`add_many` of records that supersede nothing (no emotion), in one transaction that
        takes the namespace's lock (its `namespace_state` row: the batch number) after the rows
        went in: the HNSW index's insert, most of a write's time, no longer holds the other
        writers of the namespace back. Batch numbers still follow commit order (the lock is
        held to the commit). (Sent as one pipeline, the same statements took ~0.3 ms longer
        on loopback.)"""
        check_namespace(namespace)
        check_actor(actor)
        at = time.time()
        stamped = [stamped_new(r, at) for r in records]
        given = [r.id for r in records if r.id]
        with self._db.use() as conn:
            taken = conn.execute(
                "SELECT id FROM records WHERE namespace = %s AND id = ANY(%s) LIMIT 1",
                (namespace, given),
            ).fetchone() if given else None  # fmt: skip
            if taken:
                raise id_taken(taken[0], namespace)
            try:
                with conn.transaction(), conn.cursor() as cursor:
                    cursor.executemany(
                        f"INSERT INTO records ({COLUMNS}) VALUES"
                        " (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %b)",
                        [self._values(r, v) for r, v in zip(stamped, vectors, strict=True)],
                    )
                    row = cursor.execute(NEXT_BATCH, (namespace,)).fetchone()
                    assert row is not None
                    cursor.executemany(
                        "INSERT INTO changes (namespace, record_id, kind, op, actor, at, batch,"
                        " after) VALUES (%s, %s, %s, 'add', %s, %s, %s, %s)",
                        [(namespace, r.id, r.kind, actor, at, row[0], to_json(r))
                         for r in stamped],
                    )  # fmt: skip
            except psycopg.errors.UniqueViolation:  # an id given twice, or added meanwhile
                if len(given) == 1:
                    raise id_taken(given[0], namespace) from None
                raise ConflictError(
                    f"a record id given is taken in namespace {namespace!r} (given twice, or "
                    "added meanwhile); nothing was added",
                    hint="leave ids empty to get fresh ones, or use update",
                ) from None
        return stamped

    def _current_emotions(
        self, conn: psycopg.Connection, namespace: str, task: str
    ) -> builtins.list[Row]:
        rows = conn.execute(
            "SELECT seq, body, embedding FROM records WHERE namespace = %s AND kind = 'emotion'"
            " AND task = %s AND superseded_by IS NULL ORDER BY created_at DESC, seq DESC",
            (namespace, task),
            binary=True,
        ).fetchall()
        return [(r[0], from_json(r[1]), r[2]) for r in rows]

    # ---- task profile rows ------------------------------------------------------------------
    def _task(self, conn: psycopg.Connection, namespace: str, name: str) -> TaskProfile | None:
        row = conn.execute(
            "SELECT body FROM tasks WHERE namespace = %s AND name = %s", (namespace, name)
        ).fetchone()
        return None if row is None else from_json(row[0])

    def _tasks(
        self, conn: psycopg.Connection, namespace: str, name: str | None = None
    ) -> builtins.list[TaskProfile]:
        sql, params = "SELECT body FROM tasks WHERE namespace = %s", [namespace]
        if name is not None:
            sql, params = sql + " AND name = %s", [*params, name]
        rows = conn.execute(sql + ' ORDER BY name COLLATE "C"', params).fetchall()
        return [from_json(r[0]) for r in rows]

    def _write_task(self, batch: Batch, profile: TaskProfile) -> None:
        batch.conn.execute(
            "INSERT INTO tasks VALUES (%s, %s, %s) ON CONFLICT (namespace, name)"
            " DO UPDATE SET body = excluded.body",
            (profile.namespace, profile.name, to_json(profile)),
        )

    def _delete_task(self, batch: Batch, name: str) -> None:
        old = self._task(batch.conn, batch.namespace, name)
        batch.conn.execute(
            "DELETE FROM tasks WHERE namespace = %s AND name = %s", (batch.namespace, name)
        )
        self._log(batch, "delete", f"task:{name}", "task", old, None)
