"""`MentalProcess`: the proposal's API, persisted; and the typed API beside it."""

from __future__ import annotations

import inspect
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from mindpilot.errors import NotFoundError
from mindpilot.mental_process import MentalProcess, Store, TaskProfile

PROPOSAL = """
from mindpilot.mental_process import MentalProcess

mental_process = MentalProcess()
mental_process.update_domain_knowledge("Machine Learning", "Supervised learning is a type of machine learning...")
mental_process.update_emotional_states("Customer Support", "Empathy")
mental_process.update_individual_experiences("Customer Support", "Resolved a billing issue for a frustrated customer")
"""  # noqa: E501

EXPECTED = (
    {"Machine Learning": ["Supervised learning is a type of machine learning..."]},
    {"Customer Support": "Empathy"},
    {"Customer Support": ["Resolved a billing issue for a frustrated customer"]},
)


def python(code: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_the_proposal_example_runs_unchanged_and_survives_a_restart(isolated_home: Path) -> None:
    python(PROPOSAL)  # the default embedder (real MiniLM) and the default store file
    shown = python("""
        from mindpilot.mental_process import MentalProcess
        mp = MentalProcess()
        print(repr((mp.domain_knowledge, mp.emotional_states, mp.individual_experiences)))
    """)
    assert eval(shown) == EXPECTED
    assert (isolated_home / "mindpilot.db").exists()


def test_views_follow_the_update_rules(tmp_path: Path) -> None:
    with MentalProcess(tmp_path / "mp.db", embedder="hashing") as mp:
        mp.update_emotional_states("support", "empathy")
        mp.update_emotional_states("support", "calm")
        mp.update_domain_knowledge("ml", "first")
        old = mp.update_domain_knowledge("ml", "second")
        mp.supersede(old.id, "ml", "second, corrected")
        mp.add_experience("support", "Where is my parcel?", "On its way", score=1.0)
        assert mp.emotional_states == {"support": "calm"}
        assert mp.domain_knowledge == {"ml": ["first", "second, corrected"]}
        assert mp.individual_experiences == {"support": ["Where is my parcel? -> On its way"]}
        assert [c.op for c in mp.history(old.id)] == ["add", "supersede"]
        mp.undo()  # the experience
        mp.undo()  # the correction
        assert mp.domain_knowledge == {"ml": ["first", "second"]}
        assert mp.individual_experiences == {}


def test_namespaces_do_not_see_each_other(tmp_path: Path) -> None:
    path = tmp_path / "mp.db"
    with (
        MentalProcess(path, namespace="alice", embedder="hashing") as alice,
        MentalProcess(path, namespace="bob", embedder="hashing") as bob,
    ):
        alice.update_domain_knowledge("ml", "alice's note")
        bob.update_domain_knowledge("ml", "bob's note")
        alice.delete_scope()
        assert alice.domain_knowledge == {}
        assert bob.domain_knowledge == {"ml": ["bob's note"]}
        assert [h.record.namespace for h in bob.search("note")] == ["bob"]


def test_typed_api(tmp_path: Path) -> None:
    with MentalProcess(tmp_path / "mp.db", namespace="app", embedder="hashing") as mp:
        record = mp.add_knowledge("billing", "Refunds take five days", tags=["faq"])
        assert mp.get(record.id) == record
        assert mp.update(record.id, text="Refunds take three days").version == 2
        assert mp.search("refunds three", k=1)[0].record.id == record.id
        mp.set_emotion("support", "empathy", guidance="acknowledge first", intensity=0.8)
        assert mp.current_emotion("support").guidance == "acknowledge first"  # type: ignore[union-attr]
        profile = mp.put_task(TaskProfile(name="support", expertise=("billing",)))
        assert profile.namespace == "app" and mp.get_task("support") == profile
        assert [t.name for t in mp.list_tasks()] == ["support"]
        mp.delete(record.id)
        with pytest.raises(NotFoundError):
            mp.get(record.id)


# Facade methods whose parameters differ from the Store's on purpose, and why.
FACADE_SHAPES_OF_ITS_OWN = {
    "supersede": "takes the new text and domain instead of a new record",
}


def _params(method: object, drop: set[str]) -> list[tuple[str, object, object]]:
    return [
        (p.name, p.kind, p.default)
        for p in inspect.signature(method).parameters.values()  # type: ignore[arg-type]
        if p.name not in drop
    ]


@pytest.mark.parametrize(
    "name",
    sorted(
        n
        for n in vars(Store)
        if not n.startswith("_")
        and callable(getattr(MentalProcess, n, None))
        and n not in ("close", "namespaces")
    ),
)
def test_facade_parameters_match_the_store_interface(name: str) -> None:
    """The facade is the Store bound to one namespace and actor: nothing else may differ."""
    if name in FACADE_SHAPES_OF_ITS_OWN:
        pytest.skip(FACADE_SHAPES_OF_ITS_OWN[name])
    store_params = _params(getattr(Store, name), {"self", "namespace", "actor"})
    facade_params = _params(getattr(MentalProcess, name), {"self"})
    assert facade_params == store_params


def test_every_store_method_is_on_the_facade() -> None:
    public = {n for n in vars(Store) if not n.startswith("_") and callable(getattr(Store, n))}
    # copy_*: moving namespaces between two stores (`memory migrate`), not a namespace's own API
    store_to_store = {"copy_out", "copy_in", "copy_size"}
    # journal: sessions, the audit log and monitor runs, reached through their own classes
    beside = {"namespaces", "sqlite_path", "journal"}
    missing = public - set(dir(MentalProcess)) - beside - store_to_store
    assert not missing, f"MentalProcess lacks {sorted(missing)}"
