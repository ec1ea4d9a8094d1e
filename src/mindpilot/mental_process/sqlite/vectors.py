"""The SQLite store's per-namespace vector indexes, derived from the embedding blobs.

SQLite is the source of truth. Each namespace's vector index is built from the blobs on
first search and kept in step with this process's writes; a per-namespace generation counter
(bumped by every write transaction) tells when another process wrote, and the index is then
rebuilt from the file. Searches read inside one transaction, so index and rows agree.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from mindpilot.mental_process.sqlite.base import Batch, SQLiteBase
from mindpilot.mental_process.sqlite.filters import ATTRIBUTES

if TYPE_CHECKING:
    from mindpilot.mental_process.index import VectorIndex


class VectorCache(SQLiteBase):
    """Keeps `self._indexes` (namespace -> (generation, index)) in step with the file."""

    def _generation(self, namespace: str) -> int:
        row = self._conn.execute(
            "SELECT generation FROM namespace_state WHERE namespace = ?", (namespace,)
        ).fetchone()
        return row[0] if row else 0

    def _follow(self, batch: Batch, generation_before: int) -> None:
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
            " WHERE namespace = ? AND superseded_by IS NULL ORDER BY seq",
            (namespace,),
        ).fetchall()
        if rows:
            blob = b"".join(r[1] for r in rows)
            matrix = np.frombuffer(blob, dtype=np.float32)
            seqs = np.fromiter((r[0] for r in rows), np.int64, len(rows))
            attrs = np.array([self._names.attributes(*r[2:]) for r in rows], dtype=np.int64)
            index.add(seqs, matrix.reshape(len(rows), dim), attrs)
            if index.uses_ann:  # rows 0..n-1 in seq order: a saved graph fits them
                self._graphs.attach_or_build(namespace, index, seqs, blob)
        self._indexes[namespace] = (generation, index)
        return index
