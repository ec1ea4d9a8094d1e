"""The PostgreSQL store's side of `mindpilot memory migrate` (mental_process/transfer.py): one
namespace read out exactly (one snapshot), or written in exactly (one transaction)."""

from __future__ import annotations

import numpy as np

from mindpilot.errors import ConflictError
from mindpilot.mental_process.postgres.rows import COLUMNS, Rows
from mindpilot.mental_process.records import check_namespace
from mindpilot.mental_process.row_codecs import CHANGE_COLUMNS, change_from_row, from_json, to_json
from mindpilot.mental_process.transfer import NamespaceCopy

SIZE = (
    "SELECT (SELECT count(*) FROM records WHERE namespace = %(ns)s)"
    " + (SELECT count(*) FROM tasks WHERE namespace = %(ns)s)"
    " + (SELECT count(*) FROM changes WHERE namespace = %(ns)s)"
)


class TransferMethods(Rows):
    def copy_out(self, namespace: str) -> NamespaceCopy:
        check_namespace(namespace)
        with self._read() as conn:
            meta = conn.execute("SELECT value FROM meta WHERE key = 'embedder'").fetchone()
            rows = conn.execute(
                "SELECT body, embedding FROM records WHERE namespace = %s ORDER BY seq",
                (namespace,),
                binary=True,
            ).fetchall()
            changes = conn.execute(
                f"SELECT {CHANGE_COLUMNS}, before_vector FROM changes WHERE namespace = %s"
                " ORDER BY seq",
                (namespace,),
            ).fetchall()
            tasks = self._tasks(conn, namespace)
        dim = len(rows[0][1]) if rows else 0
        return NamespaceCopy(
            namespace=namespace,
            embedder=meta[0] if meta else "",
            records=[from_json(r[0]) for r in rows],
            vectors=np.array([r[1] for r in rows], dtype=np.float32).reshape(len(rows), dim),
            tasks=tasks,
            changes=[change_from_row(c[:-1]) for c in changes],
            before_vectors=[None if c[-1] is None else bytes(c[-1]) for c in changes],
            last_batch=max((c[7] for c in changes), default=0),
        )

    def copy_size(self, namespace: str) -> int:
        check_namespace(namespace)
        with self._query() as conn:
            row = conn.execute(SIZE, {"ns": namespace}).fetchone()
        return int(row[0]) if row else 0

    def copy_in(self, data: NamespaceCopy) -> None:
        if data.records and f"{self.embedder.name}:{self.embedder.dim}" != data.embedder:
            raise ConflictError(
                f"the records were embedded with {data.embedder!r}, this store with "
                f"'{self.embedder.name}:{self.embedder.dim}'",
                hint="open the target with the source's embedder (MINDPILOT_EMBEDDER)",
            )
        with self._write(data.namespace, "migrate") as batch, batch.conn.cursor() as cursor:
            row = cursor.execute(SIZE, {"ns": data.namespace}).fetchone()
            if row and row[0]:
                raise ConflictError(f"namespace {data.namespace!r} is not empty here")
            cursor.executemany(
                f"INSERT INTO records ({COLUMNS}) VALUES"
                " (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %b)",
                [self._values(r, v) for r, v in zip(data.records, data.vectors, strict=True)],
            )
            for task in data.tasks:
                self._write_task(batch, task)
            cursor.executemany(
                "INSERT INTO changes (namespace, record_id, kind, op, actor, at, batch, before,"
                " after, before_vector, undone)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                [
                    (c.namespace, c.record_id, c.kind, c.op, c.actor, c.at, c.batch,
                     to_json(c.before), to_json(c.after), vector, c.undone)
                    for c, vector in zip(data.changes, data.before_vectors, strict=True)
                ],
            )  # fmt: skip
            cursor.execute(
                "UPDATE namespace_state SET batch = %s WHERE namespace = %s",
                (max(data.last_batch, 1), data.namespace),
            )
