"""Fixtures for the Mental Process tests (loaded by conftest.py through `pytest_plugins`).

`store_factory` is parametrized over every registered store backend, so the conformance
suite runs against each; a backend that needs a server adds its own branch here.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from mindpilot.mental_process import Store, open_store
from mindpilot.mental_process.embed import Embedder, get_embedder
from mindpilot.plugins import STORES

StoreFactory = Callable[..., Store]


def _backends() -> list[str]:
    """Every store backend installed (entry points of the group "mindpilot.stores")."""
    return STORES.names()


@pytest.fixture(params=_backends())
def store_factory(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StoreFactory]:
    """Makes fresh, empty stores of one backend (hashing embedder unless told otherwise)."""
    opened: list[Store] = []
    counter = itertools.count()

    def make(embedder: Embedder | str = "hashing", **options: object) -> Store:
        if request.param == "sqlite":
            store = open_store(tmp_path / f"store{next(counter)}.db", embedder=embedder, **options)  # type: ignore[arg-type]
        else:  # pragma: no cover - later backends plug in here
            raise NotImplementedError(request.param)
        opened.append(store)
        return store

    yield make
    for store in opened:
        store.close()


@pytest.fixture
def store(store_factory: StoreFactory) -> Store:
    """A fresh store with the fast, deterministic hashing embedder."""
    return store_factory()


@pytest.fixture(scope="session")
def minilm() -> Embedder:
    """The real all-MiniLM-L6-v2, loaded once per test session."""
    return get_embedder("minilm")


@pytest.fixture
def hashing_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the default embedder the hashing one (for tests where meaning does not matter)."""
    monkeypatch.setenv("MINDPILOT_EMBEDDER", "hashing")
