"""The typed records: validation naming the field, JSONL dicts, ids."""

from __future__ import annotations

import pytest

from mindpilot.errors import ValidationError
from mindpilot.mental_process.records import (
    Emotion,
    Experience,
    Knowledge,
    RetrievalSettings,
    TaskProfile,
    new_id,
    record_from_dict,
)

SAMPLES = [
    Knowledge(domain="ml", text="t", source="s.md", tags=("a", "b"), superseded_by="kn_1"),
    Emotion(task="support", state="empathy", guidance="g", intensity=0.9),
    Experience(task="support", situation="in", response="out", score=-0.5, note="n"),
    TaskProfile(
        name="support", expertise=("ml",), default_emotion="calm",
        retrieval=RetrievalSettings(knowledge_top_k=1, min_similarity=0.2), adapter="a",
    ),
]  # fmt: skip


@pytest.mark.parametrize("item", SAMPLES, ids=lambda i: type(i).__name__)
def test_to_dict_from_dict_round_trip(item: object) -> None:
    data = item.to_dict()  # type: ignore[attr-defined]
    assert record_from_dict(data) == item
    assert data["kind"] in ("knowledge", "emotion", "experience", "task")


@pytest.mark.parametrize(
    ("build", "field"),
    [
        (lambda: Knowledge(domain="", text="t"), "domain"),
        (lambda: Knowledge(domain="d", text="  "), "text"),
        (lambda: Knowledge(domain="d", text=3), "text"),
        (lambda: Knowledge(domain="d", text="t", tags="faq"), "tags"),
        (lambda: Knowledge(domain="d", text="t", namespace="has space"), "namespace"),
        (lambda: Knowledge(domain="d", text="t", version=-1), "version"),
        (lambda: Knowledge(domain="d", text="t", id="bad id"), "id"),
        (lambda: Emotion(task="t", state=""), "state"),
        (lambda: Emotion(task="t", state="s", intensity=1.5), "intensity"),
        (lambda: Experience(task="t", situation="s", score=2), "score"),
        (lambda: Experience(task="", situation="s"), "task"),
        (lambda: TaskProfile(name=""), "name"),
        (lambda: TaskProfile(name="t", expertise="ml"), "expertise"),
        (lambda: RetrievalSettings(knowledge_top_k=-1), "knowledge_top_k"),
        (lambda: RetrievalSettings(min_similarity=2.0), "min_similarity"),
        # what JSON can say but SQLite cannot hold: found by fuzzing the REST API
        (lambda: Knowledge(domain="d", text="bad \ud800"), "text"),
        (lambda: Knowledge(domain="d", text="t", tags=("\udfff",)), "tags"),
        (lambda: Knowledge(domain="d", text="t", version=2**63), "version"),
        (lambda: TaskProfile(name="t", expertise=("\ud800",)), "expertise"),
        (lambda: RetrievalSettings(knowledge_tokens=10**12), "knowledge_tokens"),
        (lambda: RetrievalSettings(unsure_below=1.5), "unsure_below"),
        (lambda: RetrievalSettings(decode_retrievals=-1), "decode_retrievals"),
    ],
)
def test_validation_names_the_field(build, field: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValidationError, match=field):
        build()


def test_from_dict_rejects_unknown_keys_and_kinds() -> None:
    with pytest.raises(ValidationError, match="colour") as err:
        record_from_dict({"kind": "knowledge", "domain": "d", "text": "t", "colour": "red"})
    assert err.value.hint and "domain" in err.value.hint
    with pytest.raises(ValidationError, match="unknown kind 'memo'"):
        record_from_dict({"kind": "memo"})
    with pytest.raises(ValidationError, match="knowledge"):
        record_from_dict({"kind": "knowledge", "domain": "d"})
    with pytest.raises(ValidationError, match="bogus"):
        record_from_dict({"kind": "task", "name": "t", "retrieval": {"bogus": 1}})


def test_records_are_frozen_and_lists_become_tuples() -> None:
    record = Knowledge(domain="d", text="t", tags=["a"])  # type: ignore[arg-type]
    assert record.tags == ("a",)
    with pytest.raises(AttributeError):
        record.text = "x"  # type: ignore[misc]


def test_ids_have_a_kind_prefix_and_do_not_repeat() -> None:
    ids = {new_id("knowledge") for _ in range(10_000)}
    assert len(ids) == 10_000 and all(i.startswith("kn_") and len(i) == 15 for i in ids)
    assert new_id("emotion").startswith("em_") and new_id("experience").startswith("ex_")


def test_what_each_kind_indexes() -> None:
    exp = Experience(task="t", situation="question", response="answer", note="n")
    assert exp.embed_text == "question" and "answer" in exp.search_text
    assert Emotion(task="t", state="calm", guidance="slow down").search_text == "calm. slow down"
