"""HNSW graphs saved across processes (sqlite/graphs.py): a new store object on the same file
attaches the saved graph instead of building it, and only to the exact vectors it indexes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mindpilot.config import cache_dir
from mindpilot.mental_process import Knowledge
from mindpilot.mental_process.index import VectorIndex
from mindpilot.mental_process.sqlite import SQLiteStore

N, THRESHOLD = 120, 50


@pytest.fixture(autouse=True)
def own_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """This test's graphs only (the run's shared cache holds other tests' graphs)."""
    monkeypatch.setenv("MINDPILOT_CACHE", str(tmp_path / "cache"))


def _fill(path: Path) -> np.ndarray:
    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((N, 384)).astype(np.float32)
    with SQLiteStore(path, embedder="hashing", ann_threshold=THRESHOLD) as store:
        store.add_many(
            [Knowledge(namespace="ns", domain="d", text=f"note {i}") for i in range(N)],
            vectors=vectors,
        )
    return vectors


def _ids(path: Path, query: np.ndarray, **kwargs: int) -> list[str]:
    with SQLiteStore(path, embedder="hashing", **kwargs) as store:
        return [h.record.id for h in store.search("ns", "x", mode="vector", query_vector=query)]


def _graphs() -> list[Path]:
    return sorted((cache_dir() / "graphs").glob("*.faiss"))


def test_a_saved_graph_is_attached_not_rebuilt(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    vectors = _fill(tmp_path / "s.db")
    first = _ids(tmp_path / "s.db", vectors[7], ann_threshold=THRESHOLD)  # builds and saves
    assert len(_graphs()) == 1

    def no_build(self: VectorIndex) -> None:
        raise AssertionError("the saved graph should have been used")

    monkeypatch.setattr(VectorIndex, "build", no_build)
    again = _ids(tmp_path / "s.db", vectors[7], ann_threshold=THRESHOLD)
    exact = _ids(tmp_path / "s.db", vectors[7], ann_threshold=10**9)
    assert again == first and again[0] == exact[0]


def test_a_write_makes_the_saved_graph_unusable_and_it_is_replaced(tmp_path: Path) -> None:
    vectors = _fill(tmp_path / "s.db")
    _ids(tmp_path / "s.db", vectors[0], ann_threshold=THRESHOLD)
    (old,) = _graphs()
    with SQLiteStore(tmp_path / "s.db", embedder="hashing") as store:
        store.add_many([Knowledge(namespace="ns", domain="d", text="new")], vectors=vectors[:1])
    _ids(tmp_path / "s.db", vectors[0], ann_threshold=THRESHOLD)
    (new,) = _graphs()
    assert new != old


def test_a_damaged_graph_file_is_rebuilt(tmp_path: Path) -> None:
    vectors = _fill(tmp_path / "s.db")
    first = _ids(tmp_path / "s.db", vectors[3], ann_threshold=THRESHOLD)
    (saved,) = _graphs()
    saved.write_bytes(b"not a graph")
    assert _ids(tmp_path / "s.db", vectors[3], ann_threshold=THRESHOLD) == first
    assert _graphs()[0].stat().st_size > 1000  # saved again, whole


def test_graph_bytes_round_trip_and_refuse_a_mismatch() -> None:
    rng = np.random.default_rng(1)
    vectors = rng.standard_normal((80, 384)).astype(np.float32)
    built = VectorIndex(384, ann_threshold=10)
    built.add(np.arange(80), vectors)
    built.build()
    data = built.graph_bytes()
    assert data is not None
    restored = VectorIndex(384, ann_threshold=10)
    restored.add(np.arange(80), vectors)
    restored.attach_graph(data)
    assert restored.search(vectors[5], 5) == built.search(vectors[5], 5)
    smaller = VectorIndex(384, ann_threshold=10)
    smaller.add(np.arange(79), vectors[:79])
    with pytest.raises(ValueError, match="saved graph"):
        smaller.attach_graph(data)
    built.remove([3])  # a dead label: the layout can no longer be restored from the rows
    assert built.graph_bytes() is None
