"""History of the PostgreSQL store: each record's changes, undo of the last batch, and deleting
a whole task's or domain's records (logged, so undo brings them back)."""

from __future__ import annotations

import builtins
import dataclasses
from typing import Any

import numpy as np

from mindpilot.errors import NotFoundError, ValidationError
from mindpilot.mental_process.postgres.base import Batch
from mindpilot.mental_process.postgres.rows import Rows
from mindpilot.mental_process.records import Change, TaskProfile, check_namespace
from mindpilot.mental_process.row_codecs import CHANGE_COLUMNS, change_from_row, from_json


class HistoryMethods(Rows):
    """The `Store` methods that read and revert the `changes` log."""

    def history(self, namespace: str, record_id: str) -> builtins.list[Change]:
        check_namespace(namespace)
        with self._query() as conn:
            rows = conn.execute(
                f"SELECT {CHANGE_COLUMNS} FROM changes WHERE namespace = %s AND record_id = %s"
                " ORDER BY seq",
                (namespace, record_id),
            ).fetchall()
        if not rows:
            raise NotFoundError(f"no history for {record_id!r} in namespace {namespace!r}")
        return [change_from_row(r) for r in rows]

    def change_count(self, namespace: str) -> int:
        check_namespace(namespace)
        with self._query() as conn:
            row = conn.execute(
                "SELECT count(*) FROM changes WHERE namespace = %s", (namespace,)
            ).fetchone()
        return int(row[0]) if row else 0

    def undo(self, namespace: str, *, actor: str = "user") -> builtins.list[Change]:
        with self._write(namespace, actor) as batch:
            row = batch.conn.execute(
                "SELECT max(batch) FROM changes"
                " WHERE namespace = %s AND NOT undone AND op != 'undo'",
                (namespace,),
            ).fetchone()
            target = None if row is None else row[0]
            if target is None:
                raise NotFoundError(f"nothing to undo in namespace {namespace!r}")
            rows = batch.conn.execute(
                f"SELECT {CHANGE_COLUMNS}, before_vector FROM changes"
                " WHERE namespace = %s AND batch = %s ORDER BY seq DESC",
                (namespace, target),
            ).fetchall()
            for change_row in rows:
                self._revert(batch, change_from_row(change_row[:-1]), change_row[-1])
            batch.conn.execute(
                "UPDATE changes SET undone = true WHERE namespace = %s AND batch = %s",
                (namespace, target),
            )
        return [dataclasses.replace(change_from_row(r[:-1]), undone=True) for r in rows]

    def _revert(self, batch: Batch, change: Change, before_vector: bytes | None) -> None:
        """Put one item back in its `before` state, logging an "undo" change."""
        if change.kind == "task":
            name = change.record_id.removeprefix("task:")
            current = self._task(batch.conn, batch.namespace, name)
            batch.conn.execute(
                "DELETE FROM tasks WHERE namespace = %s AND name = %s", (batch.namespace, name)
            )
            if isinstance(change.before, TaskProfile):
                self._write_task(batch, change.before)
            self._log(batch, "undo", change.record_id, "task", current, change.before)
            return
        found = self._row(batch.conn, batch.namespace, change.record_id)
        before: Any = change.before
        if before is None:
            if found is not None:
                self._remove(batch, found[0])
        else:
            assert before_vector is not None  # every change with a before state keeps its vector
            vector = np.frombuffer(before_vector, dtype=np.float32)
            self._put(batch, before, vector, None if found is None else found[0])
        self._log(
            batch, "undo", change.record_id, change.kind, found and found[1], before,
            None if found is None else found[2],
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
        sql, params = "namespace = %s", [namespace]
        if task is not None:
            sql, params = sql + " AND task = %s", [*params, task]
        elif domain is not None:
            sql, params = sql + " AND kind = 'knowledge' AND domain = %s", [*params, domain]
        with self._write(namespace, actor) as batch:
            rows = batch.conn.execute(
                f"SELECT seq, body, embedding FROM records WHERE {sql} ORDER BY seq",
                params,
                binary=True,
            ).fetchall()
            for seq, body, vec in rows:
                old = from_json(body)
                self._remove(batch, seq)
                self._log(batch, "delete", old.id, old.kind, old, None, vec)
            names = (
                []
                if domain is not None
                else [t.name for t in self._tasks(batch.conn, namespace, task)]
            )
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
                    # never the other namespaces' names: a server's tenant sees this message
                    hint="check the name: list what the namespace has with `memory list` / "
                    "`task list` (GET /v1/memory/records, GET /v1/tasks)",
                )
        return len(rows) + len(names)
