"""Moving a store's contents to another store, of any backend (`mindpilot memory migrate`):
each namespace's records (with their vectors), task profiles and whole history, exactly, and
its journal: chat sessions with their turns, the audit log and monitor runs.

A namespace's records are copied in one transaction of the target (all or nothing). A
namespace the target already holds with the same content is skipped, so an interrupted
migration resumes where it stopped; one that holds something else is refused (nothing is
merged or overwritten). Journal rows carry ids made once, so they are merged by id: what the
target lacks is added, oldest first (a session's missing turns too), and a rerun adds only what
an interruption left out.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np

from mindpilot.errors import ConflictError
from mindpilot.mental_process.journal import AuditFilter, Journal
from mindpilot.mental_process.records import Change, Record, TaskProfile

PAGE = 500  # journal rows read per query
T = TypeVar("T")


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
    skipped: bool  # the records were in the target already, same content
    sessions: int = 0  # journal rows added (the rest were there already)
    turns: int = 0
    entries: int = 0
    runs: int = 0


def migrate_store(
    source: object,
    target: object,
    *,
    namespaces: list[str] | None = None,
    on_namespace: Callable[[Moved], None] | None = None,
) -> list[Moved]:
    """Copy every namespace (or those named) of `source` into `target` (both `Store`s):
    records, task profiles, history and journal."""
    from mindpilot.mental_process.store import Store

    assert isinstance(source, Store) and isinstance(target, Store)
    moved: list[Moved] = []
    if namespaces is None:
        namespaces = all_namespaces(source)
    with source.journal() as read, target.journal() as write:
        for namespace in namespaces:
            done = Moved(
                namespace,
                *_copy_records(source, target, namespace),
                *copy_journal(read, write, namespace),
            )
            moved.append(done)
            if on_namespace is not None:
                on_namespace(done)
    return moved


def all_namespaces(store: Any) -> list[str]:
    """Every namespace of a `Store`: with records, or with a journal only (plain chat)."""
    with store.journal() as journal:
        return sorted({*store.namespaces(), *journal.namespaces()})


def _copy_records(source: Any, target: Any, namespace: str) -> tuple[int, int, int, bool]:
    """The namespace's records, task profiles and history, in one transaction of `target`:
    how many of each, and whether they were there already."""
    data = source.copy_out(namespace)
    there = target.copy_size(namespace)
    if data.size and there and there != data.size:
        raise ConflictError(
            f"namespace {namespace!r} already holds other data in the target "
            f"({there} rows, the source has {data.size}); nothing of it was copied",
            hint="migrate into an empty store, or delete that namespace from the target",
        )
    if data.size and not there:
        target.copy_in(data)
    return len(data.records), len(data.tasks), len(data.changes), bool(there)


def copy_journal(read: Journal, write: Journal, namespace: str) -> tuple[int, int, int, int]:
    """Add to `write` the namespace's sessions, turns, audit entries and monitor runs that
    it lacks (by id), oldest first; how many of each were added, in that order."""
    added = dict.fromkeys(("sessions", "turns", "entries", "runs"), 0)
    # what the target holds, read once (not one lookup per row: a log can be long)
    sessions = {s.id for s in _paged(lambda n, at: write.sessions(namespace, n, at))}
    everything = AuditFilter()
    entries = {e.id for e in _paged(lambda n, at: write.entries(namespace, everything, n, at))}
    runs = {run.id for run in write.runs(namespace, None, 1 << 30)}
    for session in reversed(_paged(lambda n, at: read.sessions(namespace, n, at))):
        have = 0
        if session.id in sessions:  # a prefix of its turns: they are added in order
            have = len(write.turns(namespace, session.id))
        else:
            write.add_session(session)
            added["sessions"] += 1
        for turn in read.turns(namespace, session.id)[have:]:
            write.add_turn(namespace, session.id, turn, session.title)
            added["turns"] += 1
    for entry in reversed(_paged(lambda n, at: read.entries(namespace, everything, n, at))):
        if entry.id not in entries:
            write.add_entry(entry)
            added["entries"] += 1
    for run in reversed(read.runs(namespace, None, 1 << 30)):
        if run.id not in runs:
            write.add_run(run)
            added["runs"] += 1
    return added["sessions"], added["turns"], added["entries"], added["runs"]


def _paged(fetch: Callable[[int, int], list[T]]) -> list[T]:
    """Every row of a newest-first listing, read `PAGE` at a time."""
    rows: list[T] = []
    while page := fetch(PAGE, len(rows)):
        rows += page
    return rows
