"""VectorIndex: the exact path against brute force, the HNSW path against the exact one."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mindpilot.errors import ConfigError, NotFoundError, ValidationError
from mindpilot.mental_process.index import VectorIndex


def unit(rows: np.ndarray) -> np.ndarray:
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


def clustered(
    n: int, dim: int, seed: int = 0, clusters: int = 100, draw: int | None = None
) -> np.ndarray:
    """Unit vectors around random centres: structured like text embeddings.

    (Uniform random vectors in 384-d have no near neighbours to find: every point is almost
    equally far from every other, and HNSW recall on them is ~0.2 at efSearch 64.)
    """
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((clusters, dim))
    if draw is not None:  # other points around the same centres
        rng = np.random.default_rng([seed, draw])
    return unit(centres[rng.integers(0, clusters, n)] + 0.8 * rng.standard_normal((n, dim)))


def brute_force(ids: np.ndarray, vectors: np.ndarray, query: np.ndarray, k: int) -> list[int]:
    scores = unit(vectors) @ unit(query[None, :])[0]
    return [int(ids[i]) for i in np.argsort(-scores, kind="stable")[:k]]


def recall(got: list[tuple[int, float]], expected: list[tuple[int, float]]) -> float:
    return len({i for i, _ in got} & {i for i, _ in expected}) / max(len(expected), 1)


# ---- exact path --------------------------------------------------------------------------------
def test_empty_index_finds_nothing() -> None:
    index = VectorIndex(8)
    assert len(index) == 0
    assert index.search(np.ones(8), 5) == []
    assert index.search(np.ones(8), 5, allowed=np.array([1, 2])) == []


def test_search_is_best_first_with_cosines() -> None:
    vectors = clustered(500, 16)
    ids = np.arange(500) * 10 + 7
    index = VectorIndex(16)
    index.add(ids, vectors)
    query = vectors[3] + 0.1
    hits = index.search(query, 10)
    assert [i for i, _ in hits] == brute_force(ids, vectors, query, 10)
    scores = [s for _, s in hits]
    assert scores == sorted(scores, reverse=True)
    np.testing.assert_allclose(scores, index.similarity(query, [i for i, _ in hits]), rtol=1e-5)
    assert all(isinstance(i, int) and isinstance(s, float) for i, s in hits)


def test_k_larger_than_size_returns_everything_sorted() -> None:
    index = VectorIndex(4)
    index.add([1, 2, 3], np.eye(4, dtype=np.float32)[:3])
    hits = index.search(np.array([0.1, 0.9, 0.5, 0.0]), 10)
    assert [i for i, _ in hits] == [2, 3, 1]
    assert index.search(np.ones(4), 0) == []


def test_re_adding_an_id_replaces_its_vector() -> None:
    index = VectorIndex(4)
    index.add([1, 2], np.eye(4, dtype=np.float32)[:2])
    index.add([1], np.eye(4, dtype=np.float32)[[3]])
    assert len(index) == 2
    assert index.search(np.eye(4)[3], 1) == [(1, pytest.approx(1.0))]
    assert index.similarity(np.eye(4)[0], [1]) == pytest.approx([0.0])


def test_repeated_id_in_one_call_keeps_the_last_vector() -> None:
    index = VectorIndex(4)
    index.add([5, 5], np.eye(4, dtype=np.float32)[:2])
    assert len(index) == 1
    assert index.similarity(np.eye(4)[1], [5]) == pytest.approx([1.0])


def test_remove_and_removing_unknown_ids() -> None:
    vectors = clustered(100, 8)
    index = VectorIndex(8)
    index.add(range(100), vectors)
    index.remove([0, 50, 99, 12345])  # 12345 was never there: ignored
    index.remove([50])  # idempotent
    assert len(index) == 97
    assert 50 not in index and 51 in index
    found = {i for i, _ in index.search(vectors[50], 100)}
    assert found == set(range(100)) - {0, 50, 99}
    with pytest.raises(NotFoundError, match="50"):
        index.similarity(vectors[0], [1, 50])


def test_filtered_search_only_returns_allowed_ids() -> None:
    vectors = clustered(1000, 16)
    ids = np.arange(1000)
    index = VectorIndex(16)
    index.add(ids, vectors)
    allowed = np.arange(0, 1000, 7)
    hits = index.search(vectors[1], 5, allowed=np.append(allowed, [5000, 7]))  # 5000: unknown
    assert [i for i, _ in hits] == brute_force(allowed, vectors[allowed], vectors[1], 5)
    assert index.search(vectors[1], 5, allowed=np.array([], dtype=np.int64)) == []


def test_vectors_are_normalised_on_the_way_in() -> None:
    index = VectorIndex(2)
    index.add([1], np.array([[3.0, 4.0]]))
    assert index.search(np.array([[30.0, 40.0]]), 1) == [(1, pytest.approx(1.0))]


@pytest.mark.parametrize(
    ("ids", "vectors", "match"),
    [
        ([1, 2], np.ones((3, 4)), "shape"),
        ([1], np.ones((1, 5)), "shape"),
        ([1], np.full((1, 4), np.nan), "NaN"),
        (["a"], np.ones((1, 4)), "integers"),
    ],
)
def test_bad_input_is_refused(ids: list, vectors: np.ndarray, match: str) -> None:
    with pytest.raises(ValidationError, match=match):
        VectorIndex(4).add(ids, vectors)


def test_bad_settings_and_queries_are_refused() -> None:
    with pytest.raises(ConfigError):
        VectorIndex(0)
    with pytest.raises(ConfigError):
        VectorIndex(4, ann_threshold=0)
    index = VectorIndex(4)
    with pytest.raises(ValidationError, match="shape"):
        index.search(np.ones(3), 1)
    with pytest.raises(ConfigError):
        index.search(np.ones(4), -1)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(["add", "remove"]), st.lists(st.integers(0, 30), max_size=6)),
        max_size=25,
    ),
    st.integers(0, 2**32 - 1),
)
def test_exact_index_matches_a_dict_model(ops: list, seed: int) -> None:
    rng = np.random.default_rng(seed)
    index, model = VectorIndex(6), dict[int, np.ndarray]()
    for op, ids in ops:
        if op == "add":
            vectors = unit(rng.standard_normal((len(ids), 6)) + 1e-3)
            index.add(ids, vectors)
            model.update(zip(ids, vectors, strict=True))
        else:
            index.remove(ids)
            for i in ids:
                model.pop(i, None)
    assert len(index) == len(model)
    query = rng.standard_normal(6)
    if model:
        keys = np.array(list(model))
        expected = brute_force(keys, np.array(list(model.values())), query, 5)
        assert [i for i, _ in index.search(query, 5)] == expected


# ---- ANN path --------------------------------------------------------------------------------
def small_ann(n: int = 3000, dim: int = 32) -> tuple[VectorIndex, VectorIndex, np.ndarray]:
    vectors = clustered(n, dim, clusters=30)
    ann, exact = VectorIndex(dim, ann_threshold=500), VectorIndex(dim, ann_threshold=10**9)
    for index in (ann, exact):
        index.add(np.arange(n), vectors)
    return ann, exact, vectors


def mean_recall(
    ann: VectorIndex, exact: VectorIndex, queries: np.ndarray, allowed: np.ndarray | None = None
) -> float:
    pairs = [(ann.search(q, 10, allowed), exact.search(q, 10, allowed)) for q in queries]
    return float(np.mean([recall(got, expected) for got, expected in pairs]))


def test_ann_path_is_used_past_the_threshold_and_agrees() -> None:
    ann, exact, vectors = small_ann()
    assert ann.uses_ann and not exact.uses_ann
    assert mean_recall(ann, exact, vectors[:50] + 0.05) >= 0.95
    assert ann._ann is not None  # built lazily by the first search


def test_ann_removal_replacement_and_rebuild() -> None:
    ann, exact, vectors = small_ann()
    ann.search(vectors[0], 1)  # build the graph
    graph = ann._ann
    removed = list(range(0, 400))  # 13% dead: hidden by the selector, graph kept
    ann.remove(removed)
    exact.remove(removed)
    assert ann._ann is graph
    hits = ann.search(vectors[5], 10)
    assert not {i for i, _ in hits} & set(removed)
    assert recall(hits, exact.search(vectors[5], 10)) >= 0.9
    # replacing id 2000 with the opposite of id 10's vector makes it the only match for that
    ann.add([2000], -vectors[[10]])
    assert ann.search(-vectors[10], 1)[0][0] == 2000
    ann.remove(range(400, 800))  # now >20% dead: dropped, rebuilt on the next search
    exact.remove(range(400, 800))
    assert ann._ann is None
    exact.add([2000], -vectors[[10]])
    assert mean_recall(ann, exact, vectors[800:850]) >= 0.95
    assert ann._dead == 0


def test_ann_falls_back_to_exact_below_the_threshold() -> None:
    ann, _, vectors = small_ann(n=600)
    ann.search(vectors[0], 1)
    ann.remove(range(100, 150))  # 550 left: hovering near 500 keeps the graph
    assert ann.uses_ann and ann._ann is not None
    ann.remove(range(200))  # 400 left: below 90% of 500
    assert not ann.uses_ann and ann._ann is None
    assert ann.search(vectors[300], 1)[0][0] == 300


def test_ann_filtered_search() -> None:
    ann, exact, vectors = small_ann()
    small = np.arange(0, 3000, 100)  # 30 ids: exact scan over just those rows
    assert ann.search(vectors[7], 5, allowed=small) == exact.search(vectors[7], 5, allowed=small)
    big = np.arange(0, 3000, 2)  # half the index: filtered graph walk
    hits = ann.search(vectors[7], 10, allowed=big)
    assert {i for i, _ in hits} <= set(big.tolist())
    assert mean_recall(ann, exact, vectors[:30] + 0.05, allowed=big) >= 0.9


@pytest.mark.slow
def test_ann_recall_at_10_on_30k_by_384() -> None:
    n, dim = 30_000, 384
    vectors = clustered(n, dim, seed=1, clusters=300)
    queries = clustered(100, dim, seed=1, clusters=300, draw=1)  # unseen points
    ann, exact = VectorIndex(dim, ann_threshold=1000), VectorIndex(dim, ann_threshold=10**9)
    ann.add(np.arange(n), vectors)
    exact.add(np.arange(n), vectors)
    ann.build()
    assert mean_recall(ann, exact, queries) >= 0.95
    allowed = np.arange(0, n, 3)
    assert mean_recall(ann, exact, queries[:30], allowed=allowed) >= 0.9
