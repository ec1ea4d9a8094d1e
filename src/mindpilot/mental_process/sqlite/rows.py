"""Write transactions of the SQLite store and the row operations inside them. Every change
goes through `_write` (one batch, one transaction), `_put`/`_remove` (rows and queued index
changes) and `_log` (the `changes` row that history and undo read)."""

from __future__ import annotations

import builtins
import dataclasses
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

from mindpilot.errors import NotFoundError, ValidationError
from mindpilot.mental_process.records import (
    Emotion,
    Op,
    Record,
    TaskProfile,
    check_namespace,
)
from mindpilot.mental_process.row_codecs import from_json, id_taken, stamped_new, to_json
from mindpilot.mental_process.sqlite.base import Batch
from mindpilot.mental_process.sqlite.vectors import VectorCache


def _check_actor(actor: object) -> str:
    if not isinstance(actor, str) or not actor.strip():
        raise ValidationError("actor must be a non-empty string", hint='e.g. actor="cli"')
    return actor


class Rows(VectorCache):
    """Transactions and row-level reads and writes; callers hold the lock (`_write` takes it)."""

    # ---- transactions -----------------------------------------------------------------------
    @contextmanager
    def _write(self, namespace: str, actor: str) -> Iterator[Batch]:
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
                batch = Batch(namespace, last + 1, actor, time.time())
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

    def _put(self, batch: Batch, record: Record, vector: bytes, seq: int | None = None) -> int:
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

    def _remove(self, batch: Batch, seq: int) -> None:
        self._conn.execute("DELETE FROM records WHERE seq = ?", (seq,))
        batch.index_ops[seq] = None

    def _log(
        self,
        batch: Batch,
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

    def _mark_superseded(self, batch: Batch, seq: int, old: Record, by: str, vec: bytes) -> None:
        changes: dict[str, Any] = {"superseded_by": by, "version": old.version + 1}
        newer = dataclasses.replace(old, **changes, updated_at=batch.at)
        self._put(batch, newer, vec, seq)
        self._log(batch, "supersede", old.id, old.kind, old, newer, vec)

    def _insert_new(self, batch: Batch, record: Record, vector: bytes) -> Record:
        """Stamp and insert a new record; a new emotion supersedes the task's current one."""
        if record.id and self._row(batch.namespace, record.id) is not None:
            raise id_taken(record.id, batch.namespace)
        stamped = stamped_new(record, batch.at)
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

    # ---- task profile rows ------------------------------------------------------------------
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

    def _delete_task(self, batch: Batch, name: str) -> None:
        old = self._task(batch.namespace, name)
        self._conn.execute(
            "DELETE FROM tasks WHERE namespace = ? AND name = ?", (batch.namespace, name)
        )
        self._log(batch, "delete", f"task:{name}", "task", old, None)
