"""Moving a store's contents to another store, of any backend (`mindpilot memory migrate`):
each namespace's records (with their vectors), task profiles and whole history, exactly.

Each namespace is copied in one transaction of the target (all or nothing). A namespace the
target already holds with the same content is skipped, so an interrupted migration resumes
where it stopped; one that holds something else is refused (nothing is merged or overwritten).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from mindpilot.errors import ConflictError
from mindpilot.mental_process.records import Change, Record, TaskProfile


@dataclass(frozen=True)
class NamespaceCopy:
    """One namespace, as a store holds it: what `Store.copy_out` reads and `copy_in` writes."""

    namespace: str
    embedder: str  # "name:dim" the vectors were made with
    records: list[Record]  # in the order they were stored (the tie-break of same-time records)
    vectors: np.ndarray  # (len(records), dim) float32, row i = records[i]'s embedding
    tasks: list[TaskProfile]
    changes: list[Change]  # oldest first
    before_vectors: list[bytes | None]  # float32 bytes of each change's before state
    last_batch: int  # the namespace's latest batch number (undo's counter)

    @property
    def size(self) -> int:
        return len(self.records) + len(self.tasks) + len(self.changes)


@dataclass(frozen=True)
class Moved:
    namespace: str
    records: int
    tasks: int
    changes: int
    skipped: bool  # already in the target, same content


def migrate_store(
    source: object,
    target: object,
    *,
    namespaces: list[str] | None = None,
    on_namespace: Callable[[Moved], None] | None = None,
) -> list[Moved]:
    """Copy every namespace (or those named) of `source` into `target` (both `Store`s)."""
    from mindpilot.mental_process.store import Store

    assert isinstance(source, Store) and isinstance(target, Store)
    moved: list[Moved] = []
    for namespace in namespaces if namespaces is not None else source.namespaces():
        data = source.copy_out(namespace)
        there = target.copy_size(namespace)
        if there and there != data.size:
            raise ConflictError(
                f"namespace {namespace!r} already holds other data in the target "
                f"({there} rows, the source has {data.size}); nothing of it was copied",
                hint="migrate into an empty store, or delete that namespace from the target",
            )
        if not there:
            target.copy_in(data)
        done = Moved(namespace, len(data.records), len(data.tasks), len(data.changes), bool(there))
        moved.append(done)
        if on_namespace is not None:
            on_namespace(done)
    return moved
