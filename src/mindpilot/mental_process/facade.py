"""`MentalProcess`: the proposal's object, persisted. A thin layer over a `Store`, bound to one
namespace.

    mental_process = MentalProcess()   # the default store file under MINDPILOT_HOME, "default"
    mental_process.update_domain_knowledge("Machine Learning", "Supervised learning is ...")
    mental_process.update_emotional_states("Customer Support", "Empathy")
    mental_process.update_individual_experiences("Customer Support", "Resolved a billing issue")
    mental_process.domain_knowledge   # {"Machine Learning": ["Supervised learning is ..."]}
"""

from __future__ import annotations

import builtins
import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING

import numpy as np

from mindpilot.mental_process.records import (
    KINDS,
    Change,
    Emotion,
    Experience,
    Hit,
    Kind,
    Knowledge,
    Record,
    TaskProfile,
    check_namespace,
)
from mindpilot.mental_process.store import SearchMode, Store, open_store

if TYPE_CHECKING:
    from mindpilot.mental_process.embed import Embedder


class MentalProcess:
    """Domain knowledge, emotional states and experiences of one namespace, persisted."""

    def __init__(
        self,
        path: str | Path | None = None,
        namespace: str = "default",
        embedder: Embedder | str | None = None,
        *,
        store: Store | None = None,
        actor: str = "user",
    ) -> None:
        """path: a store file or URL (default: the store under MINDPILOT_HOME); store: an
        already open store (then path and embedder are ignored); actor: who changes are by."""
        self.namespace = check_namespace(namespace)
        self.store = store if store is not None else open_store(path, embedder=embedder)
        self.actor = actor

    # ---- the proposal's API -----------------------------------------------------------------
    def update_domain_knowledge(self, domain: str, information: str) -> Knowledge:
        """Add a piece of knowledge to a domain."""
        return self.add_knowledge(domain, information)

    def update_emotional_states(self, task: str, emotion: str) -> Emotion:
        """Set the task's emotional state (the latest wins; earlier ones stay in history)."""
        return self.set_emotion(task, emotion)

    def update_individual_experiences(self, task: str, experience: str) -> Experience:
        """Record an experience of a task."""
        return self.add_experience(task, experience)

    @property
    def domain_knowledge(self) -> dict[str, builtins.list[str]]:
        """domain -> current knowledge texts, oldest first."""
        views: dict[str, builtins.list[str]] = {}
        for record in self._all("knowledge"):
            assert isinstance(record, Knowledge)
            views.setdefault(record.domain, []).append(record.text)
        return views

    @property
    def emotional_states(self) -> dict[str, str]:
        """task -> its current emotional state."""
        views: dict[str, str] = {}
        for record in self._all("emotion"):
            assert isinstance(record, Emotion)
            views[record.task] = record.state  # oldest first, so the latest wins
        return views

    @property
    def individual_experiences(self) -> dict[str, builtins.list[str]]:
        """task -> its experiences, oldest first ("situation -> response" when there is one)."""
        views: dict[str, builtins.list[str]] = {}
        for record in self._all("experience"):
            assert isinstance(record, Experience)
            text = (
                f"{record.situation} -> {record.response}" if record.response else record.situation
            )
            views.setdefault(record.task, []).append(text)
        return views

    def _all(self, kind: Kind) -> builtins.list[Record]:
        return list(reversed(self.store.list(self.namespace, kind=kind, limit=None)))

    # ---- typed writes -----------------------------------------------------------------------
    def add_knowledge(
        self, domain: str, text: str, *, source: str = "", tags: Sequence[str] = ()
    ) -> Knowledge:
        record = Knowledge(
            namespace=self.namespace, domain=domain, text=text, source=source, tags=tuple(tags)
        )
        return self.store.add(record, actor=self.actor)  # type: ignore[return-value]

    def set_emotion(
        self, task: str, state: str, *, guidance: str = "", intensity: float = 0.5
    ) -> Emotion:
        record = Emotion(
            namespace=self.namespace, task=task, state=state, guidance=guidance, intensity=intensity
        )
        return self.store.add(record, actor=self.actor)  # type: ignore[return-value]

    def add_experience(
        self,
        task: str,
        situation: str,
        response: str = "",
        *,
        score: float | None = None,
        note: str = "",
    ) -> Experience:
        record = Experience(
            namespace=self.namespace, task=task, situation=situation, response=response,
            score=score, note=note,
        )  # fmt: skip
        return self.store.add(record, actor=self.actor)  # type: ignore[return-value]

    def add(self, record: Record) -> Record:
        """Store any record in this namespace (its own namespace field is replaced)."""
        return self.store.add(
            dataclasses.replace(record, namespace=self.namespace), actor=self.actor
        )

    # ---- the rest of the store, bound to this namespace ---------------------------------------
    # Each method has its `Store` method's parameters minus `namespace` and `actor` (the
    # facade's own); tests/test_mental_process.py fails if the two drift apart.
    def add_many(
        self,
        records: Sequence[Record],
        *,
        progress: bool = False,
        vectors: np.ndarray | None = None,
    ) -> builtins.list[Record]:
        """See `Store.add_many` (each record's namespace is replaced by this one)."""
        mine = [dataclasses.replace(r, namespace=self.namespace) for r in records]
        return self.store.add_many(mine, actor=self.actor, progress=progress, vectors=vectors)

    def get(self, record_id: str) -> Record:
        return self.store.get(self.namespace, record_id)

    def update(self, record_id: str, **fields: object) -> Record:
        return self.store.update(self.namespace, record_id, actor=self.actor, **fields)

    def supersede(self, old_id: str, domain: str, text: str, *, source: str = "") -> Knowledge:
        """Replace a knowledge record by new text (a convenience over `Store.supersede`, which
        takes the new record)."""
        new = Knowledge(namespace=self.namespace, domain=domain, text=text, source=source)
        return self.store.supersede(self.namespace, old_id, new, actor=self.actor)  # type: ignore[return-value]

    def delete(self, record_id: str) -> None:
        self.store.delete(self.namespace, record_id, actor=self.actor)

    def list(
        self,
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
        """See `Store.list`."""
        return self.store.list(
            self.namespace, kind=kind, domain=domain, task=task, tags=tags, since=since,
            until=until, include_superseded=include_superseded, limit=limit, offset=offset,
        )  # fmt: skip

    def search(
        self,
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
        """See `Store.search` (and `Hit` for the score contract)."""
        return self.store.search(
            self.namespace, query, kinds=kinds, domains=domains, tasks=tasks, tags=tags,
            since=since, until=until, k=k, mode=mode, query_vector=query_vector,
        )  # fmt: skip

    def current_emotion(self, task: str) -> Emotion | None:
        return self.store.current_emotion(self.namespace, task)

    def history(self, record_id: str) -> builtins.list[Change]:
        return self.store.history(self.namespace, record_id)

    def change_count(self) -> int:
        return self.store.change_count(self.namespace)

    def undo(self) -> builtins.list[Change]:
        return self.store.undo(self.namespace, actor=self.actor)

    def delete_scope(self, *, task: str | None = None, domain: str | None = None) -> int:
        return self.store.delete_scope(self.namespace, task=task, domain=domain, actor=self.actor)

    def put_task(self, profile: TaskProfile) -> TaskProfile:
        return self.store.put_task(
            dataclasses.replace(profile, namespace=self.namespace), actor=self.actor
        )

    def get_task(self, name: str) -> TaskProfile:
        return self.store.get_task(self.namespace, name)

    def list_tasks(self) -> builtins.list[TaskProfile]:
        return self.store.list_tasks(self.namespace)

    def task_names(self) -> builtins.list[str]:
        """Every task: with a profile, or known only by its records."""
        return self.store.task_names(self.namespace)

    def delete_task(self, name: str) -> None:
        self.store.delete_task(self.namespace, name, actor=self.actor)

    def import_records(self, records: Sequence[Record], tasks: Sequence[TaskProfile]) -> int:
        return self.store.import_records(self.namespace, records, tasks, actor=self.actor)

    def export_jsonl(self, fp: IO[str]) -> int:
        return self.store.export_jsonl(self.namespace, fp)

    def import_jsonl(self, fp: IO[str]) -> int:
        return self.store.import_jsonl(self.namespace, fp, actor=self.actor)

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> MentalProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"MentalProcess(namespace={self.namespace!r}, store={self.store!r})"
