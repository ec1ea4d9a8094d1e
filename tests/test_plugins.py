"""The plugin registries: built-ins and third-party packages plug in through entry points."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from mindpilot.errors import ConfigError
from mindpilot.plugins import BACKENDS, EMBEDDERS, STORES, Registry


def test_the_built_ins_come_from_entry_points() -> None:
    """pyproject.toml declares them; nothing imports an implementation to register it."""
    assert {"openai", "transformers"} <= set(BACKENDS.names())
    assert "sqlite" in STORES.names()
    assert {"hashing", "minilm"} <= set(EMBEDDERS.names())
    from mindpilot.mental_process.sqlite import SQLiteStore

    assert STORES.get("sqlite") is SQLiteStore


@pytest.fixture
def third_party(tmp_path: Path) -> Iterator[str]:
    """An installed distribution of someone else's: a module and a dist-info with entry points,
    on sys.path like any site-packages folder."""
    (tmp_path / "acme_memory.py").write_text(
        textwrap.dedent(
            """
            class AcmeStore:
                def __init__(self, url, **options):
                    self.url = url
            """
        )
    )
    info = tmp_path / "acme_memory-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-memory\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(
        "[test.mindpilot.stores]\nacme = acme_memory:AcmeStore\n"
    )
    sys.path.insert(0, str(tmp_path))
    try:
        yield "test.mindpilot.stores"
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("acme_memory", None)


def test_a_third_party_package_plugs_in_without_editing_mindpilot(third_party: str) -> None:
    registry: Registry[object] = Registry("store", third_party)
    assert registry.names() == ["acme"]
    assert "acme_memory" not in sys.modules  # listed, not imported
    store = registry.create("acme", "acme://somewhere")
    assert type(store).__name__ == "AcmeStore" and store.url == "acme://somewhere"  # type: ignore[attr-defined]


def test_unknown_and_duplicate_names_are_clear_errors(third_party: str) -> None:
    registry: Registry[object] = Registry("store", third_party)
    with pytest.raises(ConfigError, match=r"unknown store 'nope'.*acme"):
        registry.get("nope")
    with pytest.raises(ConfigError, match="already registered"):
        registry.register("acme")(object)
    registry.register("local")(dict)
    assert registry.names() == ["acme", "local"]
