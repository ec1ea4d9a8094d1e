"""The SQLite store's side of `mindpilot memory migrate` (mental_process/transfer.py): one
namespace read out exactly, or written in exactly, in one transaction."""

from __future__ import annotations

import numpy as np

from mindpilot.errors import ConflictError
from mindpilot.mental_process.records import check_namespace
from mindpilot.mental_process.row_codecs import CHANGE_COLUMNS, change_from_row, from_json, to_json
from mindpilot.mental_process.sqlite.rows import Rows
from mindpilot.mental_process.transfer import NamespaceCopy


class TransferMethods(Rows):
    def copy_out(self, namespace: str) -> NamespaceCopy:
        check_namespace(namespace)
        with self._read() as conn:
            meta = conn.execute("SELECT value FROM meta WHERE key = 'embedder'").fetchone()
            rows = conn.execute(
                "SELECT body, embedding FROM records WHERE namespace = ? ORDER BY seq", (namespace,)
            ).fetchall()
            changes = conn.execute(
                f"SELECT {CHANGE_COLUMNS}, before_vector FROM changes WHERE namespace = ?"
                " ORDER BY seq",
                (namespace,),
            ).fetchall()
            tasks = self._tasks(namespace)
        dim = len(rows[0][1]) // 4 if rows else 0
        return NamespaceCopy(
            namespace=namespace,
            embedder=meta[0] if meta else "",
            records=[from_json(r[0]) for r in rows],
            vectors=np.frombuffer(b"".join(r[1] for r in rows), np.float32).reshape(len(rows), dim),
            tasks=tasks,
            changes=[change_from_row(c[:-1]) for c in changes],
            before_vectors=[c[-1] for c in changes],
            last_batch=max((c[7] for c in changes), default=0),
        )

    def copy_size(self, namespace: str) -> int:
        check_namespace(namespace)
        with self._lock:
            (n,) = self._conn.execute(
                "SELECT (SELECT count(*) FROM records WHERE namespace = ?)"
                " + (SELECT count(*) FROM tasks WHERE namespace = ?)"
                " + (SELECT count(*) FROM changes WHERE namespace = ?)",
                (namespace, namespace, namespace),
            ).fetchone()
        return int(n)

    def copy_in(self, data: NamespaceCopy) -> None:
        if data.records and self.embedder.name + f":{self.embedder.dim}" != data.embedder:
            raise ConflictError(
                f"the records were embedded with {data.embedder!r}, this store with "
                f"'{self.embedder.name}:{self.embedder.dim}'",
                hint="open the target with the source's embedder (MINDPILOT_EMBEDDER)",
            )
        with self._write(data.namespace, "migrate") as batch:
            if self.copy_size(data.namespace):
                raise ConflictError(f"namespace {data.namespace!r} is not empty here")
            for record, vector in zip(data.records, data.vectors, strict=True):
                self._put(batch, record, np.ascontiguousarray(vector, np.float32).tobytes())
            for task in data.tasks:
                self._write_task(task)
            self._conn.executemany(
                "INSERT INTO changes (namespace, record_id, kind, op, actor, at, batch, before,"
                " after, before_vector, undone) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (c.namespace, c.record_id, c.kind, c.op, c.actor, c.at, c.batch,
                     to_json(c.before), to_json(c.after), vector, int(c.undone))
                    for c, vector in zip(data.changes, data.before_vectors, strict=True)
                ],
            )  # fmt: skip
