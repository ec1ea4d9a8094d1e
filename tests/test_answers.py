"""Answers that keep to the Mental Process (issue 12): extractive answers cited by record and
character offsets, citations for generated answers, abstention, short answers. On the tiny
model (and a scripted backend where the answer's wording matters) with the hashing store;
one slow test on the real model."""

from __future__ import annotations

import sqlite3
from collections.abc import Generator, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from mindpilot.autopilot import Autopilot
from mindpilot.autopilot.backend import Backend
from mindpilot.autopilot.openai_backend import OpenAIBackend
from mindpilot.cli.model_cmds import citation_lines
from mindpilot.engine import NOTHING_TO_EXTRACT, Engine
from mindpilot.errors import ConfigError, ContextWindowError, ValidationError
from mindpilot.mental_process import Knowledge, Store, TaskProfile, open_store
from mindpilot.mental_process.embed import get_embedder
from mindpilot.mental_process.records import AnswerSettings, Hit
from mindpilot.monitor import AuditLog
from mindpilot.self_taking.citations import cite, sentence_spans, supported_fraction
from mindpilot.self_taking.compose import SHORT_ANSWER, SHORT_MAX_TOKENS
from mindpilot.self_taking.extractive import MAX_SPAN_WORDS, windows
from mindpilot.server.openai_schemas import Provenance
from mindpilot.types import (
    Generation,
    GenerationConfig,
    Message,
    Stream,
    Timings,
    Usage,
)

WARRANTY = "The Acme rocket skates carry a warranty of nine years for every skate."
SHIPPING = "Shipping to the desert takes three weeks by mule. Mules rest on Sundays."
QUESTION = "What warranty do the Acme rocket skates carry?"


class ScriptedBackend(Backend):
    """Answers every prompt with one fixed text and remembers the config it was given."""

    name = "scripted"
    model_name = "scripted"
    context_window = 4096

    def __init__(self, answer: str) -> None:
        self.answer = answer
        self.configs: list[GenerationConfig] = []

    def stream(self, messages: Sequence[Message], config: GenerationConfig) -> Stream[Generation]:
        self.configs.append(config)
        return Stream(self._pieces())

    def _pieces(self) -> Generator[str, None, Generation]:
        words = self.answer.split(" ")
        for i, word in enumerate(words):
            yield word if i == 0 else " " + word
        return Generation(
            self.answer, "stop", Usage(10, len(words)), Timings(0.01, 0.01, 0.01),
            self.model_name, self.name,
        )  # fmt: skip

    def count_tokens(self, messages: Sequence[Message]) -> int:
        return sum(len(m.content.split()) + 4 for m in messages)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with open_store(tmp_path / "answers.db", embedder="hashing") as store:
        yield store


@pytest.fixture
def audit(store: Store) -> Iterator[AuditLog]:
    with AuditLog(store) as log:
        yield log


def engine_on(autopilot: Autopilot, store: Store, audit: AuditLog | None = None) -> Engine:
    return Engine(autopilot, store, audit)


def task(store: Store, **answer: Any) -> TaskProfile:
    return store.put_task(TaskProfile(name="qa", answer=AnswerSettings(**answer)))


def fact(store: Store, text: str = WARRANTY) -> Knowledge:
    record = store.add(Knowledge(domain="acme", text=text))
    assert isinstance(record, Knowledge)
    return record


# ---- extractive answers ------------------------------------------------------------------
def test_an_extractive_answer_is_a_span_of_a_taken_record_cited_exactly(
    tiny_autopilot: Autopilot, store: Store
) -> None:
    task(store, mode="extractive")
    kept = fact(store)
    fact(store, SHIPPING)
    response = engine_on(tiny_autopilot, store).respond(QUESTION, task="qa")
    assert response.answer_mode == "extractive" and not response.abstained
    (citation,) = response.citations
    assert citation.record_id in response.used_ids and citation.version == 1
    record = store.get("default", citation.record_id)
    assert isinstance(record, Knowledge)
    assert record.text[citation.record_start : citation.record_end] == response.text
    assert (citation.text, citation.start, citation.end) == (response.text, 0, len(response.text))
    assert 0 < citation.score <= 1 and 1 <= len(response.text.split()) <= MAX_SPAN_WORDS
    assert kept.id in response.used_ids
    assert SHORT_ANSWER in response.prompt[-1].content  # the prompt asks for a few words
    assert response.generation.usage.prompt_tokens > 0


def test_every_candidate_span_points_at_its_record_text() -> None:
    record = Knowledge(
        id="kn_000000000001", domain="d", version=3,
        text='Tickets cost "four silver coins", or (rarely) gold. Ask at the desk!',
    )  # fmt: skip
    found = windows([Hit(record, 1.0, 1.0)], "How much do tickets cost?")
    assert found
    for window in found:
        assert window.text == record.text[window.start : window.ends[-1]]
        for end in window.ends:
            span = record.text[window.start : end]
            assert span == span.strip() and span[0] not in "\"'(" and span[-1] not in '.,!")'
    assert "four silver coins" in {record.text[w.start : e] for w in found for e in w.ends}


def test_batched_scores_equal_one_by_one_scores(tiny_autopilot: Autopilot) -> None:
    backend = tiny_autopilot.backend
    messages = [Message("user", QUESTION)]
    candidates = ["Nine years", "Nine years for every skate", "A warranty", "Three weeks by mule"]
    batched = backend.score_candidates(messages, candidates)  # type: ignore[attr-defined]
    alone = backend.score_continuations(messages, candidates)
    for scores, expected in zip(batched.scores, alone, strict=True):
        assert scores is not None
        assert sum(scores.token_logprobs) == pytest.approx(expected, abs=1e-3)
        assert len(scores.end_logprobs) == len(scores.token_logprobs) == len(scores.token_ends)
    kept = backend.score_candidates(messages, candidates, keep=2)  # type: ignore[attr-defined]
    firsts = [s.token_logprobs[0] for s in batched.scores]
    best_two = sorted(range(4), key=lambda i: -firsts[i])[:2]
    assert [i for i, s in enumerate(kept.scores) if s is not None] == sorted(best_two)


def test_a_request_can_ask_for_an_extractive_answer(
    tiny_autopilot: Autopilot, store: Store
) -> None:
    task(store)  # the task generates
    kept = fact(store)
    engine = engine_on(tiny_autopilot, store)
    response = engine.respond(QUESTION, task="qa", answer_mode="extractive")
    assert response.answer_mode == "extractive"
    assert response.citations[0].record_id == kept.id and response.text in WARRANTY
    assert engine.respond(QUESTION, task="qa", max_new_tokens=2).answer_mode == "generate"
    with pytest.raises(ValidationError, match="answer_mode"):
        engine.respond(QUESTION, task="qa", answer_mode="summary")


@pytest.mark.parametrize("abstain", [False, True])
def test_extractive_with_nothing_taken_says_so_without_the_model(
    tiny_autopilot: Autopilot, store: Store, abstain: bool
) -> None:
    task(store, mode="extractive", abstain=abstain, abstain_text="No idea.")
    pieces = list(stream := engine_on(tiny_autopilot, store).stream(QUESTION, task="qa"))
    response = stream.finish()
    assert pieces == [response.text] == ["No idea." if abstain else NOTHING_TO_EXTRACT]
    assert response.abstained and response.citations == ()
    assert response.generation.usage.total_tokens == 0


def test_extractive_needs_the_local_backend(store: Store) -> None:
    task(store, mode="extractive")
    fact(store)
    remote = OpenAIBackend("remote-model", base_url="http://127.0.0.1:9/v1")
    with pytest.raises(ConfigError, match="local backend"):
        engine_on(Autopilot(remote), store).stream(QUESTION, task="qa")


def test_a_prompt_that_fills_the_context_window_is_refused(tiny_autopilot: Autopilot) -> None:
    backend = tiny_autopilot.backend
    long = [Message("user", "word " * (backend.context_window + 10))]
    with pytest.raises(ContextWindowError):
        backend.score_candidates(long, ["Nine years"])  # type: ignore[attr-defined]


# ---- citations of generated answers ------------------------------------------------------
def test_a_copied_sentence_is_cited_and_an_invented_one_is_not() -> None:
    record = Knowledge(id="kn_000000000001", domain="acme", text=f"{SHIPPING} {WARRANTY}")
    answer = f"Sure! {WARRANTY} The moon is made of green cheese."
    citations = cite(answer, [Hit(record, 1.0, 1.0)], get_embedder("hashing"))
    assert [c.text for c in citations] == [answer[s:e] for s, e in sentence_spans(answer)]
    sure, copied, invented = citations
    assert copied.record_id == record.id and copied.version == record.version
    assert record.text[copied.record_start : copied.record_end] == WARRANTY
    assert answer[copied.start : copied.end] == WARRANTY
    assert invented.record_id is None and sure.record_id is None
    assert supported_fraction(citations) == 0.5  # "Sure!" counts neither way


def test_a_changed_number_is_not_supported() -> None:
    record = Knowledge(id="kn_000000000001", domain="acme", text=WARRANTY)
    answer = "The Acme rocket skates carry a warranty of 3 years for every skate."
    (citation,) = cite(answer, [Hit(record, 1.0, 1.0)], get_embedder("hashing"))
    assert citation.record_id is None
    (plain,) = cite(WARRANTY, [Hit(record, 1.0, 1.0)], None)  # no embedder: words alone
    assert plain.record_id == record.id


def test_a_generated_answer_carries_its_citations(store: Store, audit: AuditLog) -> None:
    task(store)
    kept = fact(store)
    backend = ScriptedBackend(f"{WARRANTY} Also, skates fly on Mars.")
    response = engine_on(Autopilot(backend), store, audit).respond(QUESTION, task="qa")
    supported, unsupported = response.citations
    assert supported.record_id == kept.id and unsupported.record_id is None
    for c in response.citations:
        assert response.text[c.start : c.end] == c.text
    entry = audit.get("default", response.audit_id or "")
    assert entry.citations == response.citations and entry.answer_mode == "generate"
    assert not entry.abstained
    lines = citation_lines(response.citations)
    assert lines[0] == f"[1] {WARRANTY} -> {kept.id} v1 chars 0-{len(WARRANTY)}"
    assert lines[1].endswith("-> unsupported")
    provenance = Provenance.of(response).model_dump()
    assert provenance["citations"][0]["record_id"] == kept.id
    assert provenance["abstained"] is False and provenance["answer_mode"] == "generate"


def test_without_a_task_nothing_is_cited(tiny_autopilot: Autopilot, store: Store) -> None:
    fact(store)
    response = engine_on(tiny_autopilot, store).respond(QUESTION, max_new_tokens=4)
    assert response.citations == () and not response.abstained


# ---- abstention --------------------------------------------------------------------------
def test_nothing_taken_abstains_without_generating(
    tiny_autopilot: Autopilot, store: Store, audit: AuditLog
) -> None:
    task(store, abstain=True, abstain_text="I don't know that one.")
    stream = engine_on(tiny_autopilot, store, audit).stream(QUESTION, task="qa")
    pieces = list(stream)
    response = stream.finish()
    assert pieces == ["I don't know that one."] == [response.text]
    assert response.abstained and response.generation.usage.total_tokens == 0
    assert audit.get("default", response.audit_id or "").abstained


def test_an_unsupported_answer_becomes_the_abstain_line(store: Store, audit: AuditLog) -> None:
    task(store, abstain=True, min_support=0.5)
    fact(store)
    backend = ScriptedBackend("Skates fly on Mars. Penguins sell them.")
    stream = engine_on(Autopilot(backend), store, audit).stream(QUESTION, task="qa")
    pieces = list(stream)
    response = stream.finish()
    assert pieces == ["I don't know."] == [response.text]  # held back, never retracted
    assert response.abstained and response.citations == ()
    assert "Mars" in response.generation.text  # the withheld answer stays in the provenance
    assert audit.get("default", response.audit_id or "").response == "I don't know."


def test_a_supported_answer_is_given_when_the_task_may_abstain(store: Store) -> None:
    task(store, abstain=True, min_support=0.5)
    fact(store)
    backend = ScriptedBackend(f"{WARRANTY} They are red.")
    pieces = list(stream := engine_on(Autopilot(backend), store).stream(QUESTION, task="qa"))
    response = stream.finish()
    assert not response.abstained and pieces == [response.text] and WARRANTY in response.text
    assert supported_fraction(response.citations) == 0.5


def test_the_tiny_models_babble_is_abstained_from(tiny_autopilot: Autopilot, store: Store) -> None:
    task(store, abstain=True)
    fact(store)
    response = engine_on(tiny_autopilot, store).respond(QUESTION, task="qa", max_new_tokens=12)
    assert response.abstained and response.text == "I don't know."
    assert response.generation.usage.completion_tokens > 0


# ---- short answers -----------------------------------------------------------------------
def test_a_short_answer_is_asked_for_and_stops_after_its_first_sentence(
    tiny_autopilot: Autopilot, store: Store
) -> None:
    task(store, style="short")
    fact(store)
    backend = ScriptedBackend("Nine years.")
    response = engine_on(Autopilot(backend), store).respond(QUESTION, task="qa", stop=["END"])
    (config,) = backend.configs
    assert config.max_new_tokens == SHORT_MAX_TOKENS
    assert {"\n", ". ", "END"} <= set(config.stop)
    assert SHORT_ANSWER in response.prompt[-1].content
    real = engine_on(tiny_autopilot, store).respond(QUESTION, task="qa", max_new_tokens=200)
    assert real.generation.usage.completion_tokens <= SHORT_MAX_TOKENS
    assert "\n" not in real.text and ". " not in real.text


# ---- the audit log -----------------------------------------------------------------------
def test_the_audit_log_keeps_an_extractive_answer_and_reads_old_rows(
    tiny_autopilot: Autopilot, store: Store, audit: AuditLog
) -> None:
    task(store, mode="extractive")
    fact(store)
    response = engine_on(tiny_autopilot, store, audit).respond(QUESTION, task="qa")
    entry = audit.get("default", response.audit_id or "")
    assert entry.citations == response.citations and entry.answer_mode == "extractive"
    assert entry.to_dict()["citations"][0]["record_id"] == response.citations[0].record_id
    conn = sqlite3.connect(store.sqlite_path)  # type: ignore[arg-type]
    names = [r[0] for r in conn.execute("SELECT name FROM schema_migrations")]
    assert "0004_audit_answer" in names
    with conn:  # a row from before 0004: NULLs read as the defaults
        conn.execute("UPDATE audit_log SET citations = NULL, abstained = NULL, answer_mode = NULL")
    old = audit.get("default", response.audit_id or "")
    assert (old.citations, old.abstained, old.answer_mode) == ((), False, "generate")


# ---- the real model ----------------------------------------------------------------------
@pytest.mark.slow
def test_the_real_model_extracts_the_stored_fact(
    default_autopilot: Autopilot, store: Store
) -> None:
    task(store, mode="extractive")
    kept = fact(
        store,
        "The Zorblat lighthouse keeper has served on the island for seven years. "
        "She lives there with two cats.",
    )
    fact(store, "The museum opens at nine in the morning and closes at five on weekdays.")
    response = engine_on(default_autopilot, store).respond(
        "How long has the Zorblat lighthouse keeper served on the island?", task="qa"
    )
    assert response.text == "seven years"
    (citation,) = response.citations
    assert citation.record_id == kept.id
    assert kept.text[citation.record_start : citation.record_end] == "seven years"
