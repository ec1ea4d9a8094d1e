"""The plugin module: one registry per pluggable family (model backends, stores, embedders).

Each family is filled from a Python entry-point group, and the built-ins register through the
same groups a third-party package would use (see `[project.entry-points.*]` in
pyproject.toml):

    [project.entry-points."mindpilot.stores"]
    postgresql = "my_package.store:PostgresStore"

An entry point is imported only when its name is first asked for, so listing or choosing one
plugin never imports the others (nor torch). `Registry.register` also adds a factory at run
time (tests, notebooks).

This module sits at the bottom of the layers: the families' interfaces are only named for
type checkers, and implementations are reached through entry points, never imported here.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from importlib.metadata import EntryPoint, entry_points
from typing import TYPE_CHECKING, Generic, TypeVar

from mindpilot.errors import ConfigError

if TYPE_CHECKING:
    from mindpilot.autopilot.backend import Backend
    from mindpilot.mental_process.embed import Embedder
    from mindpilot.mental_process.store import Store

T = TypeVar("T")


class Registry(Generic[T]):
    """Names to factories for one family, filled from the entry-point group `group`."""

    def __init__(self, family: str, group: str) -> None:
        self.family = family
        self.group = group
        self._factories: dict[str, Callable[..., T]] = {}
        self._entry_points: dict[str, EntryPoint] | None = None
        self._lock = threading.Lock()

    def register(self, name: str) -> Callable[[Callable[..., T]], Callable[..., T]]:
        """Decorator adding a factory at run time, e.g. `BACKENDS.register("mock")(Mock)`."""

        def add(factory: Callable[..., T]) -> Callable[..., T]:
            with self._lock:
                if name in self._factories or name in self._discovered():
                    raise ConfigError(f"{self.family} {name!r} is already registered")
                self._factories[name] = factory
            return factory

        return add

    def get(self, name: str) -> Callable[..., T]:
        """The factory registered under `name`, importing its entry point on first use."""
        with self._lock:
            factory = self._factories.get(name)
            if factory is not None:
                return factory
            entry = self._discovered().get(name)
        if entry is None:
            raise ConfigError(
                f"unknown {self.family} {name!r}", hint=f"choose one of: {', '.join(self.names())}"
            )
        loaded = entry.load()  # outside the lock: importing may register other names
        with self._lock:
            return self._factories.setdefault(name, loaded)

    def create(self, name: str, /, *args: object, **kwargs: object) -> T:
        return self.get(name)(*args, **kwargs)

    def names(self) -> list[str]:
        """Every name that can be created: registered at run time or by an entry point."""
        with self._lock:
            return sorted(set(self._factories) | set(self._discovered()))

    def _discovered(self) -> dict[str, EntryPoint]:
        # Read once: installed distributions do not change while the process runs.
        if self._entry_points is None:
            self._entry_points = {ep.name: ep for ep in entry_points(group=self.group)}
        return self._entry_points


BACKENDS: Registry[Backend] = Registry("backend", "mindpilot.backends")
STORES: Registry[Store] = Registry("store", "mindpilot.stores")
EMBEDDERS: Registry[Embedder] = Registry("embedder", "mindpilot.embedders")
