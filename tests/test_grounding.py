"""Answers grounded in what was taken (issue 12): the question's answer kind steers extractive
answers, and a task that abstains says "I don't know" without the model when the taken
records are not about the question. Tiny model, hashing store."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from mindpilot.autopilot import Autopilot
from mindpilot.engine import Engine
from mindpilot.mental_process import Knowledge, Store, TaskProfile, open_store
from mindpilot.mental_process.records import AnswerSettings, Hit
from mindpilot.self_taking.answer_types import asked_kind, asking_clause, is_kind
from mindpilot.self_taking.grounding import grounded, question_names

BRIDGE = "The Kowal bridge opened in 1932 after seven years of work led by Anna Kowalski."


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with open_store(tmp_path / "grounding.db", embedder="hashing") as store:
        yield store


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("When did the bridge open?", "time"),
        ("In what year did Lavoisier publish his work?", "time"),
        ("How many workers built it?", "number"),
        ("What percentage of power is nuclear?", "number"),
        ("Who led the work?", "person"),
        ("Where is the bridge?", "place"),
        ("Which country built it?", "place"),
        ("What does the bridge carry?", None),
        ("Why did it take seven years?", None),
        # self-corrections: the wh-word after the correction asks
        ("What has er where does the Rhine end?", "place"),
        ("When was no Who captured Fort Beausejour?", "person"),
        ("What are no actually I meant how many MSPs are there?", "number"),
        # a relative "who" does not ask
        ("What did the man who built it earn?", None),
    ],
)
def test_the_kind_of_answer_a_question_asks_for(question: str, kind: str | None) -> None:
    assert asked_kind(question) == kind


def test_a_self_correction_leaves_the_question_that_stands() -> None:
    assert asking_clause("What has er where does the Rhine end?") == "where does the rhine end"


@pytest.mark.parametrize(
    ("kind", "text", "expected"),
    [
        ("time", "in 1932", True),
        ("time", "seven years", False),
        ("number", "seven years", True),
        ("number", "Anna Kowalski", False),
        ("person", "Anna Kowalski", True),
        ("place", "Hoek van Holland", True),
        ("place", "In October", False),  # capitalised at a sentence's start, no name
        ("person", "led by Anna", False),
        (None, "anything at all", True),
    ],
)
def test_whether_a_span_is_of_the_kind_asked(kind: str | None, text: str, expected: bool) -> None:
    assert is_kind(kind, text) is expected


def hit(text: str, similarity: float = 0.6) -> Hit:
    return Hit(Knowledge(domain="d", text=text), similarity, similarity)


def test_names_decide_whether_the_records_are_about_the_question() -> None:
    assert question_names("Who helped prove Torrance's innocence?") == {"torrance"}
    assert grounded("Who led the work on the Kowal bridge?", [hit(BRIDGE)])
    assert not grounded("Who led the work on the Zorblax tower?", [hit(BRIDGE, 0.9)])
    assert not grounded("Who led the work?", [])


def test_without_names_words_or_similarity_decide() -> None:
    assert grounded("how long did the work on the bridge take?", [hit(BRIDGE, 0.1)])
    assert not grounded("what colour are the seats?", [hit(BRIDGE, 0.2)])
    assert grounded("what colour are the seats?", [hit(BRIDGE, 0.5)])


def engine_with(tiny_autopilot: Autopilot, store: Store, **answer: object) -> Engine:
    store.put_task(TaskProfile(name="qa", answer=AnswerSettings(**answer)))  # type: ignore[arg-type]
    store.add(Knowledge(domain="d", text=BRIDGE))
    return Engine(tiny_autopilot, store)


@pytest.mark.parametrize("mode", ["generate", "extractive"])
def test_a_question_about_something_never_stored_is_abstained_from_without_the_model(
    tiny_autopilot: Autopilot, store: Store, mode: str
) -> None:
    engine = engine_with(tiny_autopilot, store, mode=mode, abstain=True, min_support=0.0)
    response = engine.respond("Who led the work on the Zorblax tower?", task="qa")
    assert response.abstained and response.text == "I don't know."
    assert response.generation.usage.total_tokens == 0
    answered = engine.respond("Who led the work on the Kowal bridge?", task="qa")
    assert not answered.abstained and answered.generation.usage.total_tokens > 0


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("When was the Kowal bridge opened?", "1932"),
        ("How many years of work did the Kowal bridge take?", "seven"),
    ],
)
def test_an_extractive_answer_is_of_the_kind_asked(
    tiny_autopilot: Autopilot, store: Store, question: str, expected: str
) -> None:
    # the tiny random model has no preference worth the name: the kind decides
    engine = engine_with(tiny_autopilot, store, mode="extractive")
    response = engine.respond(question, task="qa")
    assert expected in response.text and response.text in BRIDGE


def test_an_extractive_answer_to_who_is_a_name(tiny_autopilot: Autopilot, store: Store) -> None:
    response = engine_with(tiny_autopilot, store, mode="extractive").respond(
        "Who led the work on the Kowal bridge?", task="qa"
    )
    assert response.text in {"Anna", "Anna Kowalski", "Kowalski", "Kowal"}
