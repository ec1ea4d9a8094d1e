"""The behaviour every store backend must have. Runs once per registered backend
(see `store_factory` in mp_fixtures.py); a new backend only has to pass this file."""

from __future__ import annotations

import io
import json
import time

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mindpilot.errors import ConflictError, NotFoundError, PayloadTooLargeError, ValidationError
from mindpilot.mental_process import (
    Emotion,
    Experience,
    Knowledge,
    Record,
    Store,
    TaskProfile,
)
from mindpilot.mental_process.records import RetrievalSettings
from tests.mp_fixtures import FreshStore, StoreFactory

EVERY_BACKEND = True  # store fixtures: one run per registered backend (mp_fixtures.py)


def kn(text: str, domain: str = "ml", ns: str = "default", **kw: object) -> Knowledge:
    return Knowledge(namespace=ns, domain=domain, text=text, **kw)  # type: ignore[arg-type]


def ids(records: list) -> set[str]:
    return {getattr(r, "record", r).id for r in records}


class TestStoreConformance:
    # ---- add / get / update ------------------------------------------------------------------
    def test_add_assigns_id_version_and_timestamps(self, store: Store) -> None:
        before = time.time()
        stored = store.add(kn("Gradient descent minimises a loss"))
        assert stored.id.startswith("kn_") and len(stored.id) == 15
        assert stored.version == 1
        assert before <= stored.created_at == stored.updated_at <= time.time()
        assert store.get("default", stored.id) == stored

    def test_ids_are_unique(self, store: Store) -> None:
        records = store.add_many([kn(f"fact {i}") for i in range(50)])
        assert len({r.id for r in records}) == 50

    def test_add_with_taken_id_conflicts(self, store: Store) -> None:
        first = store.add(kn("one"))
        with pytest.raises(ConflictError):
            store.add(kn("two", id=first.id))

    def test_get_unknown_raises_not_found(self, store: Store) -> None:
        with pytest.raises(NotFoundError, match="kn_000000000000"):
            store.get("default", "kn_000000000000")

    def test_get_never_crosses_namespaces(self, store: Store) -> None:
        stored = store.add(kn("secret of a", ns="a"))
        with pytest.raises(NotFoundError):
            store.get("b", stored.id)

    def test_update_makes_a_new_version_and_history(self, store: Store) -> None:
        old = store.add(kn("Paris is in Germany"))
        new = store.update("default", old.id, text="Paris is in France", actor="alice")
        assert new.version == 2 and new.text == "Paris is in France"  # type: ignore[union-attr]
        assert new.created_at == old.created_at and new.updated_at >= old.updated_at
        changes = store.history("default", old.id)
        assert [c.op for c in changes] == ["add", "update"]
        assert changes[1].actor == "alice"
        assert changes[1].before == old and changes[1].after == new
        assert ids(store.search("default", "France", mode="keyword")) == {old.id}
        assert store.search("default", "Germany", mode="keyword") == []

    def test_update_rejects_unknown_or_frozen_fields(self, store: Store) -> None:
        exp = store.add(Experience(task="support", situation="refund?", response="yes"))
        with pytest.raises(ValidationError, match="situation"):
            store.update("default", exp.id, situation="changed")
        with pytest.raises(ValidationError, match="colour"):
            store.update("default", exp.id, colour="red")
        rated = store.update("default", exp.id, score=1.0, note="customer happy")
        assert rated.score == 1.0 and rated.version == 2  # type: ignore[union-attr]

    def test_update_validates_values(self, store: Store) -> None:
        stored = store.add(kn("something"))
        with pytest.raises(ValidationError, match="text"):
            store.update("default", stored.id, text="   ")
        assert store.get("default", stored.id) == stored

    # ---- update rules per kind ---------------------------------------------------------------
    def test_supersede_keeps_old_but_stops_retrieving_it(self, store: Store) -> None:
        old = store.add(kn("The API rate limit is 100 requests per minute"))
        new = store.supersede(
            "default", old.id, kn("The API rate limit is 500 requests per minute")
        )
        kept = store.get("default", old.id)
        assert kept.superseded_by == new.id  # type: ignore[union-attr]
        assert ids(store.list("default")) == {new.id}
        assert ids(store.list("default", include_superseded=True)) == {old.id, new.id}
        for mode in ("hybrid", "keyword", "vector"):
            assert ids(store.search("default", "API rate limit", mode=mode)) == {new.id}
        with pytest.raises(ConflictError):
            store.update("default", old.id, text="edit the old one")
        with pytest.raises(ConflictError):
            store.supersede("default", old.id, kn("again"))

    def test_latest_emotion_per_task_wins(self, store: Store) -> None:
        first = store.add(Emotion(task="support", state="empathy", guidance="acknowledge feelings"))
        other = store.add(Emotion(task="sales", state="enthusiasm"))
        latest = store.add(Emotion(task="support", state="calm", guidance="stay factual"))
        assert store.current_emotion("default", "support") == latest
        assert store.current_emotion("default", "sales") == other
        assert store.current_emotion("default", "nobody") is None
        assert store.get("default", first.id).superseded_by == latest.id  # type: ignore[union-attr]
        assert ids(store.list("default", kind="emotion")) == {latest.id, other.id}
        hits = store.search("default", "empathy acknowledge feelings calm", kinds=["emotion"])
        assert first.id not in ids(hits)
        assert [c.op for c in store.history("default", first.id)] == ["add", "supersede"]

    def test_delete_removes_from_every_read_and_undo_restores(self, store: Store) -> None:
        kept = store.add(kn("Cats purr when content"))
        gone = store.add(kn("Dogs bark at strangers"))
        store.delete("default", gone.id, actor="bob")
        with pytest.raises(NotFoundError):
            store.get("default", gone.id)
        assert ids(store.list("default")) == {kept.id}
        assert gone.id not in ids(store.search("default", "dogs bark strangers"))
        assert store.history("default", gone.id)[-1].op == "delete"
        store.undo("default")
        assert store.get("default", gone.id) == gone
        assert ids(store.search("default", "dogs bark", mode="keyword")) == {gone.id}
        assert ids(store.search("default", "dogs bark", mode="vector", k=1)) == {gone.id}

    # ---- undo --------------------------------------------------------------------------------
    def test_undo_reverts_one_call_at_a_time(self, store: Store) -> None:
        a = store.add(kn("alpha"))
        batch = store.add_many([kn("beta"), kn("gamma")])
        store.update("default", a.id, text="alpha two")
        reverted = store.undo("default", actor="carol")
        assert [c.op for c in reverted] == ["update"] and reverted[0].undone
        assert store.get("default", a.id) == a
        assert {c.record_id for c in store.undo("default")} == ids(batch)
        assert ids(store.list("default")) == {a.id}
        store.undo("default")
        assert store.list("default") == []
        with pytest.raises(NotFoundError, match="nothing to undo"):
            store.undo("default")

    def test_the_change_count_grows_with_every_change_of_its_namespace(self, store: Store) -> None:
        assert store.change_count("default") == 0
        a = store.add(kn("alpha"))
        store.add_many([kn("beta"), kn("gamma")], actor="bob")
        store.update("default", a.id, text="alpha two")
        store.put_task(TaskProfile(name="support"))
        assert store.change_count("default") == 5
        store.add(kn("elsewhere", ns="other"))
        store.undo("default")  # logs the revert: the count never goes down
        assert store.change_count("default") == 6 and store.change_count("other") == 1

    def test_undo_of_an_emotion_brings_back_the_previous_one(self, store: Store) -> None:
        first = store.add(Emotion(task="support", state="empathy"))
        store.add(Emotion(task="support", state="calm"))
        store.undo("default")
        assert store.current_emotion("default", "support") == first

    def test_undo_is_scoped_to_its_namespace(self, store: Store) -> None:
        a = store.add(kn("in a", ns="a"))
        store.add(kn("in b", ns="b"))
        store.undo("b")
        assert store.list("b") == [] and ids(store.list("a")) == {a.id}
        with pytest.raises(NotFoundError):
            store.undo("b")

    def test_undo_of_task_changes(self, store: Store) -> None:
        store.put_task(TaskProfile(name="support", description="v1"))
        store.put_task(TaskProfile(name="support", description="v2"))
        store.undo("default")
        assert store.get_task("default", "support").description == "v1"
        store.undo("default")
        with pytest.raises(NotFoundError):
            store.get_task("default", "support")

    # ---- list --------------------------------------------------------------------------------
    def test_list_filters_and_pages(self, store: Store) -> None:
        a = store.add(kn("a", domain="ml", tags=("faq", "v2")))
        b = store.add(kn("b", domain="ml", tags=("faq",)))
        c = store.add(kn("c", domain="law"))
        e = store.add(Experience(task="support", situation="s"))
        assert [r.id for r in store.list("default")] == [e.id, c.id, b.id, a.id]  # newest first
        assert ids(store.list("default", kind="knowledge")) == {a.id, b.id, c.id}
        assert ids(store.list("default", domain="ml")) == {a.id, b.id}
        assert ids(store.list("default", task="support")) == {e.id}
        assert ids(store.list("default", tags=["faq"])) == {a.id, b.id}
        assert ids(store.list("default", tags=["faq", "v2"])) == {a.id}
        assert ids(store.list("default", since=c.created_at)) == {c.id, e.id}
        assert ids(store.list("default", until=c.created_at)) == {a.id, b.id}
        assert [r.id for r in store.list("default", limit=2, offset=1)] == [c.id, b.id]
        assert store.list("nobody") == []

    # ---- search ------------------------------------------------------------------------------
    def test_search_hits_follow_the_score_contract(self, store: Store) -> None:
        texts = [
            "Refunds are processed within five days",
            "Our office opens at nine",
            "Refund policy for digital goods",
        ]
        stored = store.add_many([kn(t) for t in texts])
        embedder = store.embedder  # type: ignore[attr-defined]
        query = "refund days"
        qvec = embedder.embed([query])[0]
        for mode in ("hybrid", "keyword", "vector"):
            hits = store.search("default", query, mode=mode, k=3)
            assert hits and [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
            for hit in hits:
                expected = float(embedder.embed([hit.record.embed_text])[0] @ qvec)
                assert hit.similarity == pytest.approx(expected, abs=1e-5)
                assert -1.0 <= hit.similarity <= 1.0
                if hit.keyword_score is not None:
                    assert 0.0 <= hit.keyword_score < 1.0 and hit.keyword_rank is not None
        keyword = store.search("default", query, mode="keyword")
        assert ids(keyword) == {stored[0].id, stored[2].id}
        assert all(h.vector_rank is None and h.score == h.keyword_score for h in keyword)
        vector = store.search("default", query, mode="vector", k=3)
        assert all(h.keyword_rank is None and h.score == h.similarity for h in vector)
        hybrid = store.search("default", query, k=3)
        top = hybrid[0]
        expected_rrf = sum(1 / (60 + r) for r in (top.keyword_rank, top.vector_rank) if r)
        assert top.score == pytest.approx(expected_rrf)

    def test_search_respects_k_and_filters(self, store: Store) -> None:
        ml = store.add(kn("neural networks learn features", domain="ml", tags=("deep",)))
        law = store.add(kn("contracts need consideration", domain="law"))
        exp = store.add(
            Experience(task="support", situation="networks are down", response="reboot")
        )
        other = store.add(Experience(task="sales", situation="networks discount"))
        query = "networks"
        assert len(store.search("default", query, k=1)) == 1
        assert ids(store.search("default", query, kinds=["knowledge"], k=10)) == {ml.id, law.id}
        # domains restrict knowledge only; tasks restrict emotions and experiences only
        found = ids(store.search("default", query, domains=["ml"], tasks=["support"], k=10))
        assert found == {ml.id, exp.id}
        assert ids(store.search("default", query, tags=["deep"], k=10)) == {ml.id}
        assert other.id in ids(store.search("default", query, since=other.created_at))
        assert ids(store.search("default", query, since=other.created_at)) == {other.id}

    def test_search_takes_a_query_vector(self, store: Store) -> None:
        stored = store.add(kn("vectors given by the caller"))
        qvec = store.embedder.embed(["vectors given by the caller"])[0]  # type: ignore[attr-defined]
        hits = store.search("default", "unrelated words", mode="vector", query_vector=qvec)
        assert hits[0].record.id == stored.id and hits[0].similarity == pytest.approx(1.0, abs=1e-5)
        with pytest.raises(ValidationError, match="shape"):
            store.search("default", "x", query_vector=np.ones(3, dtype=np.float32))

    @pytest.mark.parametrize("query", ["", "   "])
    def test_search_rejects_empty_query(self, store: Store, query: str) -> None:
        with pytest.raises(ValidationError, match="empty"):
            store.search("default", query)

    def test_search_rejects_bad_arguments(self, store: Store) -> None:
        with pytest.raises(ValidationError, match="mode"):
            store.search("default", "x", mode="fuzzy")  # type: ignore[arg-type]
        with pytest.raises(ValidationError, match="kind"):
            store.search("default", "x", kinds=["memories"])  # type: ignore[list-item]
        with pytest.raises(ValidationError, match="k="):
            store.search("default", "x", k=0)
        with pytest.raises(ValidationError, match="namespace"):
            store.search("bad namespace", "x")

    def test_keyword_search_survives_fts_syntax(self, store: Store) -> None:
        stored = store.add(kn('He said "NEAR" AND (OR) * - ^ : stop'))
        hits = store.search("default", 'said "NEAR AND ( * :', mode="keyword")
        assert ids(hits) == {stored.id}

    # ---- scoped deletion ---------------------------------------------------------------------
    def test_delete_scope_never_touches_other_namespaces(self, store: Store) -> None:
        """mem0's delete_all(user_id=...) wiped every user's memories; ours cannot."""
        for ns in ("alice", "bob"):
            store.add(kn(f"{ns} knows ml", ns=ns))
            store.add(Experience(namespace=ns, task="support", situation=f"{ns} case"))
            store.put_task(TaskProfile(namespace=ns, name="support"))
        bob_before = store.list("bob", include_superseded=True, limit=None)
        assert store.delete_scope("alice", task="support") == 2  # experience + profile
        assert store.delete_scope("alice", domain="ml") == 1
        assert store.list("alice") == []
        store.add(kn("again", ns="alice"))
        assert store.delete_scope("alice") == 1
        assert store.list("bob", include_superseded=True, limit=None) == bob_before
        assert store.get_task("bob", "support").name == "support"
        assert store.namespaces() == ["bob"]
        with pytest.raises(NotFoundError) as refused:
            store.delete_scope("alice")
        message = f"{refused.value} {refused.value.hint}"  # a tenant reads this: no other names
        assert "alice" in message and "bob" not in message

    def test_delete_scope_arguments(self, store: Store) -> None:
        with pytest.raises(ValidationError, match="not both"):
            store.delete_scope("default", task="t", domain="d")
        store.add(kn("x"))
        with pytest.raises(NotFoundError, match="task 'nope'"):
            store.delete_scope("default", task="nope")

    def test_delete_scope_is_one_undo(self, store: Store) -> None:
        records = store.add_many([kn(f"fact {i}") for i in range(5)])
        store.delete_scope("default")
        store.undo("default")
        assert ids(store.list("default")) == ids(records)

    # ---- task profiles -----------------------------------------------------------------------
    def test_task_profiles(self, store: Store) -> None:
        profile = TaskProfile(
            name="support", description="help customers", personality="patient",
            expertise=("billing",), default_emotion="empathy",
            retrieval=RetrievalSettings(knowledge_top_k=2), adapter="support-lora",
        )  # fmt: skip
        stored = store.put_task(profile, actor="admin")
        assert stored.version == 1 and stored.created_at > 0
        assert store.get_task("default", "support") == stored
        updated = store.put_task(profile.__class__(**{**profile.__dict__, "description": "v2"}))
        assert updated.version == 2 and updated.created_at == stored.created_at
        assert [t.name for t in store.list_tasks("default")] == ["support"]
        assert store.list_tasks("other") == []
        assert [c.op for c in store.history("default", "task:support")] == ["add", "update"]
        store.delete_task("default", "support")
        with pytest.raises(NotFoundError, match="support"):
            store.get_task("default", "support")
        with pytest.raises(NotFoundError):
            store.delete_task("default", "support")

    def test_task_names_include_tasks_known_only_by_records(self, store: Store) -> None:
        store.put_task(TaskProfile(name="support"))
        store.add(Experience(task="sales", situation="a lead"))
        store.add(Emotion(task="billing", state="calm"))
        store.add(Experience(namespace="other", task="secret", situation="x"))
        assert store.task_names("default") == ["billing", "sales", "support"]
        assert store.task_names("other") == ["secret"] and store.task_names("empty") == []
        # the store's answer is the contract's default answer, however it is computed
        assert store.task_names("default") == Store.task_names(store, "default")

    # ---- exchange ----------------------------------------------------------------------------
    def _fill(self, store: Store, ns: str = "default") -> None:
        old = store.add(kn("old fact", ns=ns, source="a.md", tags=("t",)))
        store.supersede(ns, old.id, kn("new fact", ns=ns))
        store.add(Emotion(namespace=ns, task="support", state="empathy", intensity=0.8))
        store.add(Emotion(namespace=ns, task="support", state="calm"))
        exp = store.add(Experience(namespace=ns, task="support", situation="s", response="r"))
        store.update(ns, exp.id, score=-0.5, note="too curt")
        store.put_task(TaskProfile(namespace=ns, name="support", expertise=("ml",)))

    def test_export_import_round_trip_is_exact(self, store: Store) -> None:
        self._fill(store, "a")
        out = io.StringIO()
        assert store.export_jsonl("a", out) == 6
        assert store.import_jsonl("b", io.StringIO(out.getvalue())) == 6
        again = io.StringIO()
        store.export_jsonl("b", again)
        assert again.getvalue() == out.getvalue().replace('"namespace": "a"', '"namespace": "b"')
        strip = lambda r: r.__class__(**{**r.__dict__, "namespace": "x"})  # noqa: E731
        assert [strip(r) for r in store.list("b", include_superseded=True, limit=None)] == [
            strip(r) for r in store.list("a", include_superseded=True, limit=None)
        ]
        assert store.current_emotion("b", "support").state == "calm"  # type: ignore[union-attr]
        assert ids(store.search("b", "fact", mode="keyword")) == ids(
            store.list("b", kind="knowledge")
        )

    def test_import_is_all_or_nothing(self, store: Store) -> None:
        self._fill(store, "a")
        out = io.StringIO()
        store.export_jsonl("a", out)
        with pytest.raises(ConflictError, match="nothing was imported"):
            store.import_jsonl("a", io.StringIO(out.getvalue()))
        lines = out.getvalue().splitlines()
        bad = [
            *lines[:3],
            json.dumps({"kind": "knowledge", "domain": "d", "text": "t", "colour": 1}),
        ]
        with pytest.raises(ValidationError, match=r"line 4.*colour"):
            store.import_jsonl("c", io.StringIO("\n".join(bad)))
        with pytest.raises(ValidationError, match="line 2"):
            store.import_jsonl("c", io.StringIO(lines[0] + "\n{not json\n"))
        with pytest.raises(ValidationError, match=r"line 1.*empty"):
            store.import_jsonl("c", io.StringIO('{"kind": "knowledge", "domain": "d", "text": ""}'))
        surrogate = '{"kind": "knowledge", "domain": "d", "text": "a \\ud800 b"}'
        with pytest.raises(ValidationError, match=r"line 2.*not valid Unicode"):
            store.import_jsonl("c", io.StringIO(lines[0] + "\n" + surrogate))
        with pytest.raises(ValidationError, match=r"line 1.*nested too deeply"):
            store.import_jsonl("c", io.StringIO("[" * 100_000 + "]" * 100_000))
        assert "c" not in store.namespaces()
        store.import_jsonl("c", io.StringIO(out.getvalue()))
        store.undo("c")
        assert "c" not in store.namespaces()

    # ---- bad input ---------------------------------------------------------------------------
    def test_oversize_records_are_refused(self, store_factory: StoreFactory) -> None:
        small = store_factory(max_record_chars=100)
        with pytest.raises(PayloadTooLargeError, match="over the limit of 100"):
            small.add(kn("x" * 101))
        with pytest.raises(PayloadTooLargeError):
            small.add_many([kn("fine"), kn("y" * 200)])
        assert small.list("default") == []

    def test_add_many_is_atomic(self, store: Store) -> None:
        taken = store.add(kn("taken"))
        with pytest.raises(ConflictError):
            store.add_many([kn("fresh"), kn("dupe", id=taken.id)])
        assert ids(store.list("default")) == {taken.id}
        with pytest.raises(ValidationError, match="namespaces"):
            store.add_many([kn("x", ns="a"), kn("y", ns="b")])

    def test_namespaces(self, store: Store) -> None:
        assert store.namespaces() == []
        store.add(kn("x", ns="b"))
        store.put_task(TaskProfile(namespace="a", name="t"))
        assert store.namespaces() == ["a", "b"]


# ---- isolation under random operations ----------------------------------------------------
NAMESPACES = ("alice", "bob")
operation = st.one_of(
    st.tuples(st.just("add"), st.sampled_from(NAMESPACES), st.sampled_from(["ml", "law"])),
    st.tuples(st.just("emotion"), st.sampled_from(NAMESPACES), st.sampled_from(["t1", "t2"])),
    st.tuples(
        st.just("delete_domain"), st.sampled_from(NAMESPACES), st.sampled_from(["ml", "law"])
    ),
    st.tuples(st.just("delete_task"), st.sampled_from(NAMESPACES), st.sampled_from(["t1", "t2"])),
    st.tuples(st.just("delete_all"), st.sampled_from(NAMESPACES), st.none()),
    st.tuples(st.just("undo"), st.sampled_from(NAMESPACES), st.none()),
)


@settings(
    max_examples=25,
    deadline=None,
    # `fresh_store` is a factory: each example opens its own new store with it
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(ops=st.lists(operation, max_size=12))
def test_namespaces_stay_isolated_under_random_operations(
    fresh_store: FreshStore, ops: list[tuple[str, str, str | None]]
) -> None:
    """Whatever happens in one namespace, the other's records are exactly what its own
    operations left (checked against a model after each step). Runs on every backend."""
    with fresh_store() as store:
        snapshots: dict[str, list[Record]] = {ns: [] for ns in NAMESPACES}
        for i, (op, ns, arg) in enumerate(ops):
            other = NAMESPACES[1 - NAMESPACES.index(ns)]
            expected_other = store.list(other, include_superseded=True, limit=None)
            try:
                if op == "add":
                    store.add(kn(f"fact {i}", domain=arg, ns=ns))  # type: ignore[arg-type]
                elif op == "emotion":
                    store.add(Emotion(namespace=ns, task=arg, state=f"s{i}"))  # type: ignore[arg-type]
                elif op == "delete_domain":
                    store.delete_scope(ns, domain=arg)
                elif op == "delete_task":
                    store.delete_scope(ns, task=arg)
                elif op == "delete_all":
                    store.delete_scope(ns)
                else:
                    store.undo(ns)
            except NotFoundError:
                pass  # nothing to delete or undo: fine
            assert store.list(other, include_superseded=True, limit=None) == expected_other
            for record in store.list(ns, include_superseded=True, limit=None):
                assert record.namespace == ns
            snapshots[ns] = store.list(ns, include_superseded=True, limit=None)
        for ns in NAMESPACES:
            current = (
                [h.record for h in store.search(ns, "fact s0 s1", k=50)] if snapshots[ns] else []
            )
            assert all(r.namespace == ns for r in current)
