"""One registry per pluggable family (model backends, stores, embedders).

Built-ins register through the same decorator a third party would use.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

from mindpilot.errors import ConfigError

T = TypeVar("T")


class Registry(Generic[T]):
    """Names to factories for one family, e.g. `BACKENDS.register("openai")(OpenAIBackend)`."""

    def __init__(self, family: str) -> None:
        self.family = family
        self._factories: dict[str, Callable[..., T]] = {}

    def register(self, name: str) -> Callable[[Callable[..., T]], Callable[..., T]]:
        def add(factory: Callable[..., T]) -> Callable[..., T]:
            if name in self._factories:
                raise ConfigError(f"{self.family} {name!r} is already registered")
            self._factories[name] = factory
            return factory

        return add

    def get(self, name: str) -> Callable[..., T]:
        try:
            return self._factories[name]
        except KeyError:
            raise ConfigError(
                f"unknown {self.family} {name!r}", hint=f"choose one of: {', '.join(self.names())}"
            ) from None

    def create(self, name: str, /, *args: object, **kwargs: object) -> T:
        return self.get(name)(*args, **kwargs)

    def names(self) -> list[str]:
        return sorted(self._factories)
