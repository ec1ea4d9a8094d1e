"""HNSW graphs kept across processes, under MINDPILOT_CACHE/graphs.

A namespace past the index's `ann_threshold` needs its HNSW graph before its first fast search:
~1 s to build at 5k records, ~2 s at 10k, ~15 s at 100k, in every new process (each CLI
command is one). Reading a saved graph takes ~20 ms at 10k. A saved graph is named by a hash
of the store's path, the namespace, and the exact rows it was built from (their seqs, in order,
and their vector bytes), so a graph is only ever attached to the vectors it indexes: any write
gives a new name, and the file of the older content is removed when the new one is saved.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from mindpilot import config
from mindpilot.errors import ValidationError

if TYPE_CHECKING:
    from mindpilot.mental_process.index import VectorIndex


class GraphCache:
    """Saved graphs of one store file."""

    def __init__(self, db_path: Path) -> None:
        self._db = str(db_path.resolve())

    def forget(self, namespace: str) -> None:
        """Remove the namespace's saved graph (e.g. before deleting a scratch store)."""
        for old in (config.cache_dir() / "graphs").glob(f"{self._prefix(namespace)}-*.faiss"):
            old.unlink(missing_ok=True)

    def _prefix(self, namespace: str) -> str:
        return _digest(f"{self._db}\0{namespace}".encode())[:16]

    def attach_or_build(
        self, namespace: str, index: VectorIndex, seqs: np.ndarray, vectors: bytes
    ) -> None:
        """Give `index` (built from exactly these rows, in this order) its HNSW graph: the saved
        one if there is one, else build it now and save it."""
        prefix = self._prefix(namespace)
        content = hashlib.blake2b(digest_size=16)
        content.update(f"{index.hnsw_m},{index.ef_construction},{index.dim}\0".encode())
        content.update(np.ascontiguousarray(seqs, dtype=np.int64).tobytes())
        content.update(vectors)
        folder = config.cache_dir() / "graphs"
        path = folder / f"{prefix}-{content.hexdigest()}.faiss"
        if path.is_file():
            try:
                index.attach_graph(np.fromfile(path, dtype=np.uint8))
                return
            except (ValidationError, OSError):
                path.unlink(missing_ok=True)  # damaged (a cache, not data): built again below
        index.build()
        data = index.graph_bytes()
        if data is not None:
            _save(folder, prefix, path, data)


def _digest(raw: bytes) -> str:
    return hashlib.blake2b(raw, digest_size=16).hexdigest()


def _save(folder: Path, prefix: str, path: Path, data: np.ndarray) -> None:
    """Write atomically, then drop this namespace's older graphs. A cache that cannot be
    written only costs the next process a rebuild: say so, and search on."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        handle, tmp = tempfile.mkstemp(dir=folder, prefix=".saving-")
        with os.fdopen(handle, "wb") as out:
            data.tofile(out)
        os.replace(tmp, path)
        for old in folder.glob(f"{prefix}-*.faiss"):
            if old != path:
                old.unlink(missing_ok=True)
    except OSError as err:
        warnings.warn(
            f"cannot save the vector index's graph in {folder} ({err}); the next process "
            "builds it again",
            RuntimeWarning,
            stacklevel=4,
        )
