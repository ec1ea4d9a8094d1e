"""The SQLite store's fast paths: precomputed vectors, in-memory scope filters on the vector
index, and bounded keyword ranking. Each is checked against a slow, obviously right answer."""

from __future__ import annotations

import itertools
from functools import partial
from pathlib import Path

import numpy as np
import pytest

from mindpilot.errors import ValidationError
from mindpilot.mental_process import Experience, Knowledge
from mindpilot.mental_process.index import VectorIndex
from mindpilot.mental_process.sqlite import SQLiteStore
from mindpilot.mental_process.sqlite import filters as filter_module
from mindpilot.mental_process.sqlite import keyword_search as keyword_module

DIM = 384


def _unit(rng: np.random.Generator, n: int) -> np.ndarray:
    v = rng.standard_normal((n, DIM)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


# ---- add_many(vectors=...) ---------------------------------------------------------------
def test_add_many_stores_given_vectors_normalised(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    vectors = _unit(rng, 3) * 5.0  # any length: stored as unit rows
    with SQLiteStore(tmp_path / "s.db", embedder="hashing") as store:
        added = store.add_many(
            [Knowledge(namespace="ns", domain="d", text=f"note {i}") for i in range(3)],
            vectors=vectors,
        )
        hits = store.search("ns", "anything", mode="vector", query_vector=vectors[1])
    assert hits[0].record.id == added[1].id
    assert hits[0].similarity == pytest.approx(1.0, abs=1e-5)


@pytest.mark.parametrize(
    ("vectors", "message"),
    [
        (np.ones((2, DIM), dtype=np.float32), "shape"),
        (np.ones((3, DIM + 1), dtype=np.float32), "shape"),
        (np.full((3, DIM), np.nan, dtype=np.float32), "NaN"),
        (np.vstack([np.ones((2, DIM)), np.zeros((1, DIM))]), "row 2 is all zeros"),
    ],
)
def test_add_many_refuses_bad_vectors_and_writes_nothing(
    tmp_path: Path, vectors: np.ndarray, message: str
) -> None:
    with SQLiteStore(tmp_path / "s.db", embedder="hashing") as store:
        records = [Knowledge(namespace="ns", domain="d", text=f"note {i}") for i in range(3)]
        with pytest.raises(ValidationError, match=message):
            store.add_many(records, vectors=vectors)
        assert store.list("ns") == []


# ---- in-memory scope filters -------------------------------------------------------------
def _filled_store(tmp_path: Path, ann_threshold: int) -> SQLiteStore:
    """3,000 knowledge records over 5 domains and 600 experiences over 3 tasks; some later
    deleted, superseded or moved to another domain, so the index must follow every write."""
    rng = np.random.default_rng(1)
    store = SQLiteStore(tmp_path / "s.db", embedder="hashing", ann_threshold=ann_threshold)
    knowledge = [
        Knowledge(namespace="ns", domain=f"d{i % 5}", text=f"fact {i}") for i in range(3000)
    ]
    experiences = [
        Experience(namespace="ns", task=f"t{i % 3}", situation=f"case {i}") for i in range(600)
    ]
    added = store.add_many(knowledge, vectors=_unit(rng, 3000))
    added += store.add_many(experiences, vectors=_unit(rng, 600))
    store.search("ns", "warm", mode="vector", query_vector=_unit(rng, 1)[0])  # index built
    store.delete("ns", added[0].id)
    store.supersede("ns", added[1].id, Knowledge(namespace="ns", domain="d1", text="newer"))
    store.update("ns", added[2].id, domain="d0")
    store.add(Knowledge(namespace="ns", domain="brand-new", text="late fact"))
    return store


@pytest.fixture(scope="module", params=[100_000, 1_000], ids=["exact", "hnsw"])
def filled(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    store = _filled_store(tmp_path_factory.mktemp("filled"), request.param)
    yield store
    store.close()


def _brute_force(store: SQLiteStore, q: np.ndarray, **scope: object) -> list[str]:
    """The 10 best ids by cosine among every current record that passes the filter, in SQL."""
    where, params = filter_module.filters(
        "ns", kinds=scope.get("kinds", ("knowledge", "emotion", "experience")),  # type: ignore[arg-type]
        domains=scope.get("domains"), tasks=scope.get("tasks"),  # type: ignore[arg-type]
        tags=(), since=None, until=None, strict=False, current=True,
    )  # fmt: skip
    rows = store._conn.execute(f"SELECT id, embedding FROM records r WHERE {where}", params)
    found = rows.fetchall()
    if not found:
        return []
    ids, blobs = zip(*found, strict=True)
    matrix = np.frombuffer(b"".join(blobs), dtype=np.float32).reshape(len(ids), DIM)
    return [ids[i] for i in np.argsort(-(matrix @ q), kind="stable")[:10]]


@pytest.mark.parametrize(
    "scope",
    [
        {"domains": ["d3"]},
        {"domains": ["d0", "brand-new"], "kinds": ["knowledge"]},
        {"tasks": ["t2"]},
        {"tasks": ["t1"], "kinds": ["experience"]},
        {"domains": [], "tasks": ["t0"]},
        {"domains": ["no-such-domain"], "kinds": ["knowledge"]},
        {"kinds": ["experience", "emotion"]},
    ],
)
def test_filtered_vector_search_matches_sql(filled: SQLiteStore, scope: dict[str, object]) -> None:
    store = filled
    for q in _unit(np.random.default_rng(2), 5):
        hits = store.search("ns", "q", mode="vector", query_vector=q, **scope)  # type: ignore[arg-type]
        expected = _brute_force(store, q, **scope)
        found = [h.record.id for h in hits]
        if store._ann_threshold > 10_000:
            assert found == expected
        else:  # a graph walk over random vectors misses neighbours; it never breaks the filter
            assert len(found) == len(expected)
            assert set(found) <= set(_brute_force_all(store, q, scope))


def _brute_force_all(store: SQLiteStore, q: np.ndarray, scope: dict[str, object]) -> list[str]:
    where, params = filter_module.filters(
        "ns", kinds=scope.get("kinds", ("knowledge", "emotion", "experience")),  # type: ignore[arg-type]
        domains=scope.get("domains"), tasks=scope.get("tasks"),  # type: ignore[arg-type]
        tags=(), since=None, until=None, strict=False, current=True,
    )  # fmt: skip
    return [r[0] for r in store._conn.execute(f"SELECT id FROM records r WHERE {where}", params)]


def test_index_follows_writes_in_the_scope_filter(filled: SQLiteStore) -> None:
    hits = filled.search("ns", "late fact", mode="vector", domains=["brand-new"], k=5)
    assert [h.record.text for h in hits if h.record.kind == "knowledge"] == ["late fact"]
    d0 = filled.search("ns", "fact", k=700, mode="vector", domains=["d0"], kinds=["knowledge"])
    texts = {h.record.text for h in d0}
    assert len(d0) == 600 and "fact 2" in texts and "fact 0" not in texts  # moved in; deleted
    d1 = filled.search("ns", "fact", k=700, mode="vector", domains=["d1"], kinds=["knowledge"])
    texts = {h.record.text for h in d1}
    assert len(d1) == 600 and "newer" in texts and "fact 1" not in texts  # superseded


# ---- vector index row attributes ---------------------------------------------------------
def test_index_where_filters_on_attributes_that_follow_removals() -> None:
    rng = np.random.default_rng(3)
    index = VectorIndex(DIM, attributes=2)
    vectors = _unit(rng, 6)
    index.add(np.arange(6), vectors, np.array([[i % 2, i] for i in range(6)]))
    index.remove([0])  # row 5 moves into row 0: its attributes must move with it
    odd = index.search(vectors[5], 6, where=lambda a: a[:, 0] == 1)
    assert sorted(i for i, _ in odd) == [1, 3, 5] and odd[0][0] == 5
    both = index.search(vectors[5], 6, np.array([3, 4, 5]), where=lambda a: a[:, 0] == 1)
    assert sorted(i for i, _ in both) == [3, 5]
    assert index.search(vectors[5], 6, where=lambda a: a[:, 1] > 99) == []


def test_index_admits_and_kept_filters_follow_every_change() -> None:
    """`admits` (through its id -> row table past 256 ids) and a filter's kept rows agree with
    a plain model after adds, replacements, removals (rows move) and ids past the table."""
    rng = np.random.default_rng(5)
    index = VectorIndex(DIM, attributes=3)
    model: dict[int, int] = {}  # id -> domain code
    for step in range(6):
        ids = rng.choice(3000 + 500 * step, 400, replace=False)
        domains = rng.integers(0, 4, len(ids))
        index.add(ids, _unit(rng, len(ids)), np.stack([0 * ids, domains, -1 + 0 * ids], axis=1))
        model.update(zip(ids.tolist(), domains.tolist(), strict=True))
        _check_admits_and_filter(index, model, rng)
        gone = rng.choice(sorted(model), 150, replace=False)
        index.remove(gone)
        for i in gone.tolist():
            del model[i]
        _check_admits_and_filter(index, model, rng)


def _check_admits_and_filter(
    index: VectorIndex, model: dict[int, int], rng: np.random.Generator
) -> None:
    keep = filter_module.RowTest(kinds=(0,), domains=(1, 2), tasks=None)
    probe = np.concatenate([rng.integers(-5, 6000, 500), [10**12]])
    expected = [model.get(i, -1) in (1, 2) for i in probe.tolist()]
    assert index.admits(probe, where=keep).tolist() == expected
    assert index.admits(probe).tolist() == [i in model for i in probe.tolist()]
    same = filter_module.RowTest(kinds=(0,), domains=(1, 2), tasks=None)  # equal: reused
    hits = index.search(_unit(rng, 1)[0], 10_000, where=same)
    assert sorted(i for i, _ in hits) == sorted(i for i, d in model.items() if d in (1, 2))


def test_index_refuses_attributes_of_the_wrong_shape() -> None:
    index = VectorIndex(DIM, attributes=2)
    with pytest.raises(ValidationError, match="attributes"):
        index.add([1], _unit(np.random.default_rng(4), 1), np.zeros((1, 3), dtype=np.int64))


# ---- bounded keyword ranking -------------------------------------------------------------
@pytest.fixture
def small_bounds(monkeypatch: pytest.MonkeyPatch) -> None:
    """Bounds scaled down so a few hundred records exercise every branch."""
    monkeypatch.setattr(keyword_module, "COMMON_MIN_DOCS", 20)
    monkeypatch.setattr(keyword_module, "MAX_SCORED", 40)
    monkeypatch.setattr(keyword_module, "POOL_PER_HIT", 1)


def test_a_rare_word_outranks_a_word_in_every_record(tmp_path: Path, small_bounds: None) -> None:
    with SQLiteStore(tmp_path / "s.db", embedder="hashing") as store:
        store.add_many(
            [Knowledge(namespace="ns", domain="d", text=f"movie review {i}") for i in range(300)]
        )
        store.add(Knowledge(namespace="ns", domain="d", text="a movie about a lighthouse"))
        hits = store.search("ns", "movie lighthouse", mode="keyword", k=3)
    assert hits[0].record.text == "a movie about a lighthouse"


def test_keyword_search_widens_past_another_namespaces_matches(
    tmp_path: Path, small_bounds: None
) -> None:
    with SQLiteStore(tmp_path / "s.db", embedder="hashing") as store:
        store.add_many(
            [Knowledge(namespace="mine", domain="d", text=f"old film {i}") for i in range(5)]
        )
        # Newer matches of another tenant: more than MAX_SCORED and the pool.
        store.add_many(
            [Knowledge(namespace="other", domain="d", text=f"film {i}") for i in range(400)]
        )
        hits = store.search("mine", "film", mode="keyword", k=10)
        filtered = store.search("mine", "film", mode="keyword", k=10, domains=["d"])
    assert sorted(h.record.text for h in hits) == [f"old film {i}" for i in range(5)]
    assert len(filtered) == 5


def test_keyword_ranking_small_store_keeps_every_word(tmp_path: Path) -> None:
    with SQLiteStore(tmp_path / "s.db", embedder="hashing") as store:
        store.add_many([Knowledge(namespace="ns", domain="d", text="film night") for _ in range(3)])
        hits = store.search("ns", "film night", mode="keyword", k=5)
    assert len(hits) == 3 and all(h.keyword_score is not None for h in hits)


@pytest.mark.parametrize("domains", [None, ["d1"]])
def test_in_memory_keyword_filter_agrees_with_the_sql_join(
    tmp_path: Path, small_bounds: None, domains: list[str] | None
) -> None:
    """Keyword search filters its matches through the vector index (namespace, current,
    kinds/domains/tasks); the SQL join it replaced (still used for tags and dates) must give
    the same ranking, superseded records and other namespaces left out by both."""
    from mindpilot.mental_process.sqlite.filters import filters

    words = ["film", "night", "rain", "score", "actor"]
    with SQLiteStore(tmp_path / "s.db", embedder="hashing") as store:
        for ns in ("mine", "other"):
            store.add_many(
                [
                    Knowledge(
                        namespace=ns, domain=f"d{i % 3}", text=f"{words[i % 5]} {words[i % 3]} {i}"
                    )
                    for i in range(150)
                ]
            )
        old = store.search("mine", "film", mode="keyword", k=1)[0].record
        store.update("mine", old.id, text="rain only now")  # the old version is superseded
        where, params = filters(
            "mine", kinds=None, domains=domains, tasks=None, tags=(), since=None, until=None,
            strict=False, current=True,
        )  # fmt: skip
        for query in ("film rain", "night actor score", "film"):
            hits = store.search("mine", query, mode="keyword", k=12, domains=domains)
            with store._read() as conn:
                joined = keyword_module.keyword_ranking(
                    conn, query, where, params, 36, selective=True
                )
            assert [h.record.text for h in hits] and all(h.record.namespace == "mine" for h in hits)
            scores = [h.keyword_score for h in hits]
            assert scores == pytest.approx([s for _, s in joined[: len(hits)]])
            assert {h.record.id for h in hits} <= {r.id for r in store.list("mine", limit=1000)}


@pytest.mark.parametrize("domains", [None, ["d1"], ["no-such-domain"]])
def test_keyword_pool_sized_by_the_filters_share_finds_the_same_ranking(
    tmp_path: Path, small_bounds: None, domains: list[str] | None
) -> None:
    """The first pool tested against the filter is sized by how many records it admits; any
    size gives the same first `depth` admitted matches (a short pool only widens)."""
    words = ["film", "night", "rain", "score", "actor"]
    with SQLiteStore(tmp_path / "s.db", embedder="hashing") as store:
        for ns in ("mine", "other"):
            store.add_many(
                [
                    Knowledge(namespace=ns, domain=f"d{i % 3}", text=f"{words[i % 5]} {i}")
                    for i in range(150)
                ]
            )
        keep = filter_module.row_filter(store._names, ("knowledge",), domains, None)
        with store._read() as conn:
            index = store._index("mine")
            exact = index.passing(keep)
            for query, depth in itertools.product(("film rain", "night actor", "film"), (3, 12)):
                rankings = [
                    keyword_module.keyword_ranking_admitted(
                        conn,
                        query,
                        depth,
                        partial(index.admits, where=keep),
                        store._counts,
                        admitted=admitted,
                    )
                    for admitted in (None, exact, 1, 10**6)
                ]
                assert all(r == rankings[0] for r in rankings[1:])
                assert (not rankings[0]) == (domains == ["no-such-domain"])


def test_search_hits_are_rebuilt_from_the_current_row(tmp_path: Path) -> None:
    """Hits are memoised on the row's text: an edit must still show in the next search."""
    with SQLiteStore(tmp_path / "s.db", embedder="hashing") as store:
        rec = store.add(Knowledge(namespace="ns", domain="d", text="the kettle whistles"))
        assert store.search("ns", "kettle", k=1)[0].record.text == "the kettle whistles"
        store.update("ns", rec.id, text="the kettle hums")
        assert store.search("ns", "kettle", k=1)[0].record.text == "the kettle hums"
