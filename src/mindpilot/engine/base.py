"""The state of an engine: the Autopilot (loaded on first use if given a loader), the Mental
Process store, the audit log and the adapter library; the request paths are mixins built on
`EngineBase` (generation.py, answers.py), assembled in core.py as `Engine`."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self

from mindpilot.adapters import AdapterLibrary, Manifest, attach
from mindpilot.adapters.builtin import READER_ID, attach_reader
from mindpilot.autopilot.model import Autopilot
from mindpilot.autopilot.steering import SteeringLibrary
from mindpilot.engine.requests import ComposedRequest
from mindpilot.mental_process.store import Store, open_store
from mindpilot.self_taking import TakenRecords, compose
from mindpilot.types import (
    AdapterUse,
    Message,
    Response,
)

if TYPE_CHECKING:
    from mindpilot.monitor.audit import AuditLog


class EngineBase:
    """What every request path shares."""

    def __init__(
        self,
        autopilot: Autopilot | Callable[[], Autopilot],
        store: Store | None = None,
        audit: AuditLog | None = None,
        *,
        model_name: str | None = None,
        adapters: AdapterLibrary | None = None,
    ) -> None:
        self._autopilot = autopilot if isinstance(autopilot, Autopilot) else None
        self._load = None if isinstance(autopilot, Autopilot) else autopilot
        self._load_lock = threading.Lock()
        self._model_name = model_name
        self.store = store
        self.audit = audit
        self._owned: list[Any] = []  # what `close` closes: what `open` opened
        self._library = adapters  # default: the installation's (MINDPILOT_HOME/adapters)
        self._manifests: dict[tuple[str, str], Manifest] = {}
        self._steering: SteeringLibrary | None = None

    @classmethod
    def open(
        cls,
        model: str | Autopilot | None = None,
        *,
        backend: str = "transformers",
        store: Store | str | Path | None = None,
        memory: bool = True,
        audit: bool = True,
        lazy: bool = False,
        **options: Any,
    ) -> Self:
        """The whole system, wired once for every shell: the Autopilot (`model` on `backend`;
        None = the bundled default; `options` go to the backend; or an Autopilot already
        loaded), the Mental Process (`store`:
        an open Store, a path or URL, or None for the default file under MINDPILOT_HOME; no
        store with `memory=False`) and the store's audit log (`audit`). `lazy` loads the
        model on first use. Close it (or use `with`) to close what it opened."""
        from mindpilot.monitor.audit import AuditLog

        def load() -> Autopilot:
            if isinstance(model, Autopilot):
                return model
            return Autopilot.load(model, backend=backend, **options)

        opened = None
        if memory and not isinstance(store, Store):
            opened = open_store(store)
        the_store = opened if opened is not None else (store if memory else None)
        assert the_store is None or isinstance(the_store, Store)
        log = AuditLog(the_store) if audit and the_store is not None else None
        try:
            name = None
            if lazy and not isinstance(model, Autopilot):
                name = Autopilot.name_of(model, backend)
            engine = cls(load if lazy else load(), the_store, log, model_name=name)
        except BaseException:
            for thing in (log, opened):
                if thing is not None:
                    thing.close()
            raise
        engine._owned = [x for x in (log, opened) if x is not None]
        return engine

    @property
    def autopilot(self) -> Autopilot:
        """The frozen model (loaded now if the engine was given a loader)."""
        with self._load_lock:
            if self._autopilot is None:
                assert self._load is not None
                self._autopilot = self._load()
            return self._autopilot

    @property
    def model_name(self) -> str:
        """The base model's name, without loading it when it was given."""
        if self._autopilot is None and self._model_name is not None:
            return self._model_name
        return self.autopilot.model_name

    def close(self) -> None:
        """Close the audit log and store that `open` opened (not ones passed in)."""
        for thing in self._owned:
            thing.close()
        self._owned = []

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def recompose(
        self, namespace: str, task: str | None, taken: TakenRecords, messages: Sequence[Message]
    ) -> ComposedRequest:
        """Compose `messages` with records already taken, without searching again (a chat
        that drops old turns to fit the context window keeps what its question found)."""
        started = time.perf_counter()
        composed = compose(taken, messages)
        compose_s = time.perf_counter() - started
        extra = self.autopilot.count_tokens(composed) - self.autopilot.count_tokens(messages)
        return ComposedRequest(
            namespace, task, tuple(composed), taken, compose_s, extra, tuple(messages),
            adapter=_adapter(taken),
        )  # fmt: skip

    @property
    def adapters(self) -> AdapterLibrary:
        """The installation's saved task adapters."""
        if self._library is None:
            self._library = AdapterLibrary()
        return self._library

    @property
    def steering_library(self) -> SteeringLibrary:
        """The installation's tone steering vectors (MINDPILOT_HOME/steering)."""
        if self._steering is None:
            self._steering = SteeringLibrary()
        return self._steering

    def adapter_manifest(self, namespace: str, adapter_id: str) -> Manifest:
        """The manifest of an adapter this engine applied (read once, then remembered)."""
        manifest = self._manifests.get((namespace, adapter_id))
        return manifest if manifest is not None else self.adapters.get(namespace, adapter_id)

    def apply_adapter(self, namespace: str, adapter_id: str | None) -> AdapterUse | None:
        """Load a task's adapter into the Autopilot (once) and name it for provenance."""
        if adapter_id is None:
            return None
        key = (namespace, adapter_id)
        manifest = self._manifests.get(key)
        if manifest is None and adapter_id == READER_ID:  # shipped with mindpilot
            manifest = self._manifests[key] = attach_reader(self.autopilot.backend)
        if manifest is None:  # first use: check and load it, then remember it
            manifest = self.adapters.get(namespace, adapter_id)
            attach(self.autopilot.backend, self.adapters, manifest)
            self._manifests[key] = manifest
        return AdapterUse(manifest.id, manifest.task, manifest.version)

    def _audited(self, response: Response, session_id: str | None) -> Response:
        if self.audit is None:
            return response
        return replace(response, audit_id=self.audit.record(response, session_id).id)


def _adapter(taken: TakenRecords) -> str | None:
    """The adapter a request is answered with: the task's own, else the built-in reader when
    the task asks for it and there is knowledge to read."""
    profile = taken.profile
    if profile.adapter is None and profile.answer.reader and taken.knowledge:
        return READER_ID
    return profile.adapter
