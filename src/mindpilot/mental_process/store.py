"""The store interface every backend implements, and `open_store`, which picks one by URL.

A backend (the embedded SQLite store, the PostgreSQL + pgvector one) subclasses `Store`, is
declared under the entry-point group "mindpilot.stores" (read by `mindpilot.plugins.STORES`;
the URL scheme is its name) and passes the shared conformance suite
(tests/test_store_conformance.py).
"""

from __future__ import annotations

import builtins
import json
from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING

import numpy as np

from mindpilot import config
from mindpilot.errors import ConfigError, ValidationError
from mindpilot.mental_process.records import (
    KINDS,
    SEARCH_MODES,
    Change,
    Emotion,
    Hit,
    Kind,
    Record,
    SearchMode,
    TaskProfile,
    check_namespace,
    record_from_dict,
)
from mindpilot.plugins import STORES

__all__ = ["SEARCH_MODES", "SearchMode", "Store", "open_store"]  # the modes: records.py

if TYPE_CHECKING:
    from mindpilot.mental_process.embed import Embedder
    from mindpilot.mental_process.journal import Journal
    from mindpilot.mental_process.transfer import NamespaceCopy

DEFAULT_MAX_RECORD_CHARS = 100_000


def default_embedder_name() -> str:
    """The embedder to use: the `embedder` setting (MINDPILOT_EMBEDDER, config.toml), minilm."""
    return config.embedder_name()


def resolve_embedder(embedder: Embedder | str | None) -> Embedder:
    """An embedder instance from an instance, a registered name, or None (the default)."""
    if embedder is None or isinstance(embedder, str):
        from mindpilot.mental_process.embed import get_embedder

        return get_embedder(embedder or default_embedder_name())
    return embedder


def open_store(
    url_or_path: str | Path | None = None,
    *,
    embedder: Embedder | str | None = None,
    max_record_chars: int = DEFAULT_MAX_RECORD_CHARS,
) -> Store:
    """Open a store: a file path or "sqlite:///path" (embedded), or "<backend>://..." for a
    registered backend (e.g. "postgresql://user:password@host:5432/db"). None opens the `store`
    setting (MINDPILOT_STORE, config.toml), by default the store file under MINDPILOT_HOME."""
    target = str(url_or_path) if url_or_path is not None else config.store_target()
    scheme, sep, rest = target.partition("://")
    if not sep:
        return STORES.create(
            "sqlite", Path(target), embedder=embedder, max_record_chars=max_record_chars
        )
    if scheme == "sqlite":
        return STORES.create(
            "sqlite", Path(rest), embedder=embedder, max_record_chars=max_record_chars
        )
    return STORES.create(scheme, target, embedder=embedder, max_record_chars=max_record_chars)


class Store(ABC):
    """A namespaced, versioned store of records with keyword and vector search.

    Every write records `Change`s (who, when, before, after); `undo` reverts the latest call's
    changes. No operation ever reads or writes outside the namespace it is given.
    """

    # ---- records --------------------------------------------------------------------------
    @abstractmethod
    def add(self, record: Record, *, actor: str = "user") -> Record:
        """Store a new record (id, version 1 and timestamps assigned) and return it.
        An emotion supersedes the task's current emotion."""

    @abstractmethod
    def add_many(
        self,
        records: Sequence[Record],
        *,
        actor: str = "user",
        progress: bool = False,
        vectors: np.ndarray | None = None,
    ) -> builtins.list[Record]:
        """Store many records in one transaction (embeddings batched); all or nothing.

        `vectors` (len(records), dim) skips embedding: row i must be this store's embedder's
        vector of `records[i].embed_text` (e.g. computed by a batch job); rows are
        L2-normalised, and a wrong shape, NaN, infinity or an all-zero row is refused."""

    @abstractmethod
    def get(self, namespace: str, record_id: str) -> Record:
        """The record, superseded or not. NotFoundError if there is none."""

    @abstractmethod
    def update(
        self, namespace: str, record_id: str, *, actor: str = "user", **fields: object
    ) -> Record:
        """Change some fields (see records.UPDATABLE); returns the new version (version + 1)."""

    @abstractmethod
    def supersede(
        self, namespace: str, old_id: str, new_record: Record, *, actor: str = "user"
    ) -> Record:
        """Replace a knowledge record by a new one; the old one is kept, no longer retrieved."""

    @abstractmethod
    def delete(self, namespace: str, record_id: str, *, actor: str = "user") -> None:
        """Remove one record (its history stays, so `undo` can bring it back)."""

    @abstractmethod
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
        """Records, newest first. Filters combine with AND; `tags` must all be present;
        `since <= created_at < until` (unix seconds). limit None = all."""

    @abstractmethod
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
        """The k best current records for `query` (see `Hit` for the score contract).

        `domains` restricts knowledge records, `tasks` restricts emotions and experiences;
        each leaves the other kinds alone, so one call can fetch a task's whole context.
        Superseded and deleted records are never returned. `query_vector` (dim,) skips
        embedding the query."""

    @abstractmethod
    def current_emotion(self, namespace: str, task: str) -> Emotion | None:
        """The task's latest emotion, or None."""

    @abstractmethod
    def namespaces(self) -> builtins.list[str]:
        """Namespaces holding records or tasks, sorted."""

    # ---- history --------------------------------------------------------------------------
    @abstractmethod
    def history(self, namespace: str, record_id: str) -> builtins.list[Change]:
        """Changes of one record (or "task:<name>"), oldest first. NotFoundError if none."""

    @abstractmethod
    def change_count(self, namespace: str) -> int:
        """How many changes the namespace's history holds (every add, update, supersede,
        delete and undo of a record or task profile): a counter that only grows, so a watcher
        can tell how much changed since it last looked without hooking every write."""

    @abstractmethod
    def undo(self, namespace: str, *, actor: str = "user") -> builtins.list[Change]:
        """Revert the namespace's latest not-yet-undone call (one batch of changes); returns
        the reverted changes. NotFoundError when there is nothing to undo."""

    @abstractmethod
    def delete_scope(
        self,
        namespace: str,
        *,
        task: str | None = None,
        domain: str | None = None,
        actor: str = "user",
    ) -> int:
        """Delete a task's records and profile, a domain's knowledge, or (neither given) the
        whole namespace; returns how many records and profiles went. Never touches another
        namespace."""

    # ---- task profiles --------------------------------------------------------------------
    @abstractmethod
    def put_task(self, profile: TaskProfile, *, actor: str = "user") -> TaskProfile:
        """Create or replace a task profile; returns it with version and timestamps set."""

    @abstractmethod
    def get_task(self, namespace: str, name: str) -> TaskProfile:
        """NotFoundError if the namespace has no such task."""

    @abstractmethod
    def list_tasks(self, namespace: str) -> builtins.list[TaskProfile]:
        """Task profiles by name."""

    def task_names(self, namespace: str) -> builtins.list[str]:
        """Every task of the namespace, sorted: those with a profile and those that exist only
        as the task of current records (the proposal's tasks are record labels). A store may
        answer this faster than the default, which reads every record."""
        names = {p.name for p in self.list_tasks(namespace)}
        for record in self.list(namespace, limit=None):
            task = getattr(record, "task", None)
            if task:
                names.add(task)
        return sorted(names)

    @abstractmethod
    def delete_task(self, namespace: str, name: str, *, actor: str = "user") -> None:
        """Remove a task profile (its records stay; see `delete_scope`)."""

    # ---- exchange -------------------------------------------------------------------------
    @abstractmethod
    def import_records(
        self,
        namespace: str,
        records: Sequence[Record],
        tasks: Sequence[TaskProfile],
        *,
        actor: str = "user",
    ) -> int:
        """Insert records exactly as given (ids, versions, timestamps kept) in one
        transaction; ConflictError (nothing written) if an id or task already exists."""

    def export_jsonl(self, namespace: str, fp: IO[str]) -> int:
        """Write the namespace's tasks and records (superseded ones too), one JSON object per
        line, oldest first; returns the number of lines."""
        check_namespace(namespace)
        lines = [t.to_dict() for t in self.list_tasks(namespace)]
        records = self.list(namespace, include_superseded=True, limit=None)
        lines += [r.to_dict() for r in reversed(records)]
        for line in lines:
            fp.write(json.dumps(line, ensure_ascii=False, sort_keys=False) + "\n")
        return len(lines)

    def import_jsonl(self, namespace: str, fp: IO[str], *, actor: str = "user") -> int:
        """Read an export into `namespace` (each line's namespace is replaced by it), all or
        nothing: any invalid line raises ValidationError naming the line, and nothing is
        written. Returns the number of lines imported."""
        check_namespace(namespace)
        records: builtins.list[Record] = []
        tasks: builtins.list[TaskProfile] = []
        for number, line in enumerate(fp, start=1):
            if not line.strip():
                continue
            try:
                data = json.loads(line)
                if isinstance(data, dict):
                    data["namespace"] = namespace
                item = record_from_dict(data)
            except (json.JSONDecodeError, ValidationError, RecursionError) as err:
                reason = "it is nested too deeply" if isinstance(err, RecursionError) else err
                raise ValidationError(
                    f"line {number} of the import does not validate: {reason}",
                    hint="fix or remove that line; nothing was imported",
                ) from None
            (tasks if isinstance(item, TaskProfile) else records).append(item)  # type: ignore[arg-type]
        return self.import_records(namespace, records, tasks, actor=actor)

    # ---- moving between stores (transfer.py) ------------------------------------------------
    def copy_out(self, namespace: str) -> NamespaceCopy:
        """The namespace exactly as stored: records with vectors, tasks, the whole history."""
        raise ConfigError(f"the {type(self).__name__} store cannot be migrated from")

    def copy_in(self, data: NamespaceCopy) -> None:
        """Write a `copy_out` of another store into this one, in one transaction; the
        namespace must be empty here."""
        raise ConfigError(f"the {type(self).__name__} store cannot be migrated to")

    def copy_size(self, namespace: str) -> int:
        """Records + tasks + changes the namespace holds (0: empty, free to `copy_in`)."""
        raise ConfigError(f"the {type(self).__name__} store cannot be migrated to")

    # ---- the journal (journal.py) -------------------------------------------------------------
    @abstractmethod
    def journal(self) -> Journal:
        """A new handle on the chat sessions, the audit log and the monitor runs this store
        keeps beside its records (the caller closes it). Used through `Sessions`, `AuditLog`
        and `RunLog`, which validate what they are given."""

    # ---- lifetime -------------------------------------------------------------------------
    @property
    def sqlite_path(self) -> Path | None:
        """The SQLite file this store lives in, if it is one (a resident server names its
        store by it); None for other backends."""
        return None

    @abstractmethod
    def close(self) -> None:
        """Release connections and files."""

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
