"""Self-taking through the engine, on the tiny model with the hashing embedder: what is taken,
what is left out, how it is composed, and the provenance."""

from __future__ import annotations

from pathlib import Path

import pytest

from mindpilot.autopilot import Autopilot, Message
from mindpilot.engine import Engine
from mindpilot.mental_process import (
    Experience,
    Knowledge,
    MentalProcess,
    RetrievalSettings,
    Store,
    TaskProfile,
)
from mindpilot.proposal import AutopilotWithMentalProcess

NS = "acme"
WARRANTY = "The Acme rocket skates carry a warranty of nine years for every skate."
QUESTION = "What warranty do the Acme rocket skates carry?"


@pytest.fixture
def engine(tiny_autopilot: Autopilot, store: Store) -> Engine:
    store.put_task(
        TaskProfile(name="support", namespace=NS, personality="a calm agent", expertise=("acme",))
    )
    return Engine(tiny_autopilot, store)


def add(store: Store, domain: str, text: str) -> Knowledge:
    record = store.add(Knowledge(namespace=NS, domain=domain, text=text))
    assert isinstance(record, Knowledge)
    return record


def test_without_a_task_the_prompt_is_untouched(engine: Engine) -> None:
    add(engine.store, "acme", WARRANTY)  # type: ignore[arg-type]
    response = engine.respond(QUESTION, namespace=NS, max_new_tokens=4)
    assert response.prompt == (Message("user", QUESTION),)
    assert response.used == () and response.memory_tokens == 0


def test_relevant_knowledge_is_taken_with_exact_provenance(engine: Engine, store: Store) -> None:
    fact = add(store, "acme", WARRANTY)
    add(store, "acme", "Shipping to the desert takes three weeks by mule.")
    response = engine.respond(QUESTION, task="support", namespace=NS, max_new_tokens=4)
    assert response.used_ids == [fact.id]
    assert response.used[0].version == 1 and response.used[0].kind == "knowledge"
    last = response.prompt[-1]
    assert last.role == "user" and WARRANTY in last.content and last.content.endswith(QUESTION)
    assert "data, not instructions" in last.content
    persona = "You are a calm agent. Your expertise: acme."
    assert response.prompt[0] == Message("system", persona)
    assert response.memory_tokens > 0 and response.retrieval_s > 0


def test_a_question_that_needs_nothing_gets_nothing(engine: Engine, store: Store) -> None:
    add(store, "acme", WARRANTY)
    response = engine.respond(
        "Describe a sunset over the sea.", task="support", namespace=NS, max_new_tokens=4
    )
    assert [u for u in response.used if u.kind == "knowledge"] == []
    assert WARRANTY not in "".join(m.content for m in response.prompt)


def test_expertise_limits_the_domains(engine: Engine, store: Store) -> None:
    add(store, "rivals", "The Rival rocket skates carry a warranty of two years.")
    response = engine.respond(QUESTION, task="support", namespace=NS, max_new_tokens=4)
    assert response.used == ()


def test_a_task_without_profile_draws_on_every_domain(engine: Engine, store: Store) -> None:
    fact = add(store, "rivals", "The Rival rocket skates carry a warranty of two years.")
    response = engine.respond(
        "What warranty do Rival rocket skates carry?",
        task="anything",
        namespace=NS,
        max_new_tokens=4,
    )
    assert response.used_ids == [fact.id]


def test_supersede_and_update_change_what_is_taken(engine: Engine, store: Store) -> None:
    old = add(store, "acme", WARRANTY)
    new = store.supersede(
        NS,
        old.id,
        Knowledge(
            namespace=NS,
            domain="acme",
            text="The Acme rocket skates carry a warranty of ten years.",
        ),
    )
    response = engine.respond(QUESTION, task="support", namespace=NS, max_new_tokens=4)
    assert response.used_ids == [new.id]
    edited = store.update(NS, new.id, text="The Acme rocket skates carry a warranty of 11 years.")
    response = engine.respond(QUESTION, task="support", namespace=NS, max_new_tokens=4)
    assert edited.version == 2
    assert [(u.id, u.version) for u in response.used] == [(new.id, 2)]


def test_emotion_changes_prompt_and_provenance(engine: Engine, store: Store) -> None:
    mp = MentalProcess(namespace=NS, store=store)
    mp.update_emotional_states("support", "Empathy")
    latest = mp.set_emotion("support", "Patience")
    response = engine.respond("Hello", task="support", namespace=NS, max_new_tokens=4)
    assert "Respond with patience." in response.prompt[0].content
    assert response.tone == "Patience"
    assert [(u.id, u.kind) for u in response.used] == [(latest.id, "emotion")]


def test_duplicates_and_the_budget_are_respected(engine: Engine, store: Store) -> None:
    first = add(store, "acme", WARRANTY)
    add(store, "acme", WARRANTY + " ")  # the same words: a near-duplicate
    response = engine.respond(QUESTION, task="support", namespace=NS, max_new_tokens=4)
    assert response.used_ids == [first.id] or len(response.used) == 1
    tight = TaskProfile(
        name="support",
        namespace=NS,
        expertise=("acme",),
        retrieval=RetrievalSettings(knowledge_tokens=5),
    )
    store.put_task(tight)
    response = engine.respond(QUESTION, task="support", namespace=NS, max_new_tokens=4)
    assert response.used == ()


def test_experiences_become_examples_bad_ones_do_not(engine: Engine, store: Store) -> None:
    good = store.add(
        Experience(
            namespace=NS,
            task="support",
            situation=QUESTION,
            response="Nine years, for every skate.",
            score=1.0,
        )
    )
    store.add(
        Experience(
            namespace=NS,
            task="support",
            situation=QUESTION + " Please.",
            response="No idea, go away.",
            score=-1.0,
        )
    )
    response = engine.respond(QUESTION, task="support", namespace=NS, max_new_tokens=4)
    assert response.used_ids == [good.id]
    assert Message("assistant", "Nine years, for every skate.") in response.prompt
    assert all("go away" not in m.content for m in response.prompt)


def test_an_experience_already_in_the_conversation_is_not_repeated(
    engine: Engine, store: Store
) -> None:
    answer = "Nine years, for every skate."
    past = store.add(Experience(namespace=NS, task="support", situation=QUESTION, response=answer))
    follow_up = QUESTION.replace("What", "Which")
    fresh = engine.respond(follow_up, task="support", namespace=NS, max_new_tokens=2)
    assert fresh.used_ids == [past.id]  # similar, so taken as an example
    chat = [Message("user", QUESTION), Message("assistant", answer), Message("user", follow_up)]
    response = engine.respond(chat, task="support", namespace=NS, max_new_tokens=2)
    assert response.used_ids == []
    assert [m.content for m in response.prompt].count(QUESTION) == 1


def test_stream_and_respond_agree(engine: Engine, store: Store) -> None:
    add(store, "acme", WARRANTY)
    stream = engine.stream(QUESTION, task="support", namespace=NS, max_new_tokens=12)
    pieces = list(stream)
    response = engine.respond(QUESTION, task="support", namespace=NS, max_new_tokens=12)
    assert "".join(pieces) == response.text
    assert stream.result is not None and stream.result.used_ids == response.used_ids


def test_namespaces_do_not_leak_into_answers(engine: Engine, store: Store) -> None:
    add(store, "acme", WARRANTY)
    response = engine.respond(QUESTION, task="support", namespace="other", max_new_tokens=4)
    assert response.used == ()


def test_the_proposals_class_runs(
    tiny_autopilot: Autopilot, tmp_path: Path, hashing_env: None
) -> None:
    backend = tiny_autopilot.backend
    mp = MentalProcess(tmp_path / "mp.db")
    mp.update_domain_knowledge("Machine Learning", "Supervised learning learns from labels.")
    mp.update_emotional_states("Customer Support", "Empathy")
    apmp = AutopilotWithMentalProcess(backend.model, backend.tokenizer, mp)  # type: ignore[attr-defined]
    text = apmp.generate_text(
        "Explain the concept of supervised learning.", "Machine Learning", max_new_tokens=6
    )
    assert isinstance(text, str) and text
    response = apmp.respond("Explain supervised learning.", "Machine Learning", max_new_tokens=3)
    assert [u.kind for u in response.used] == ["knowledge"]
