"""The built-in reader adapter (issue 12): which requests it reads, what it refuses (tiny
model, hashing embedder), and on the real model: it follows a stored passage that
contradicts what the model memorised, names itself in the provenance, and leaves the base
bit-identical."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from mindpilot.adapters.builtin import LIBRARY, READER_ID, reader_manifest
from mindpilot.adapters.library import PEFT_FILES
from mindpilot.autopilot import Autopilot
from mindpilot.autopilot.openai_backend import OpenAIBackend
from mindpilot.engine import Engine
from mindpilot.errors import ConfigError
from mindpilot.mental_process import Knowledge, Store, TaskProfile, open_store
from mindpilot.mental_process.records import AnswerSettings

QUESTION = "What warranty do the Acme rocket skates carry?"
WARRANTY = "The Acme rocket skates carry a warranty of nine years for every skate."


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with open_store(tmp_path / "reader.db", embedder="hashing") as store:
        yield store


def reader_task(store: Store, adapter: str | None = None, **answer: object) -> None:
    settings = AnswerSettings(reader=True, **answer)  # type: ignore[arg-type]
    store.put_task(TaskProfile(name="qa", adapter=adapter, answer=settings))


def test_the_reader_ships_with_a_complete_manifest() -> None:
    manifest = reader_manifest()
    folder = LIBRARY.checked_folder(manifest)
    assert manifest.id == READER_ID and manifest.kind == "generation"
    assert manifest.base_model and len(manifest.base_hash) == 64
    assert manifest.metrics.name == "token_f1" and manifest.train_examples > 0
    assert all((folder / name).is_file() for name in PEFT_FILES)


def test_the_reader_reads_only_taken_knowledge_and_yields_to_a_task_adapter(
    tiny_autopilot: Autopilot, store: Store
) -> None:
    engine = Engine(tiny_autopilot, store)
    reader_task(store)
    assert engine.prepare(QUESTION, task="qa").adapter is None  # nothing stored: nothing to read
    store.add(Knowledge(domain="acme", text=WARRANTY))
    assert engine.prepare(QUESTION, task="qa").adapter == READER_ID
    reader_task(store, adapter="ad_0123456789ab")  # the task's own adapter comes first
    assert engine.prepare(QUESTION, task="qa").adapter == "ad_0123456789ab"
    store.put_task(TaskProfile(name="qa"))  # reader off (the default)
    assert engine.prepare(QUESTION, task="qa").adapter is None


def test_the_reader_is_refused_on_another_base(tiny_autopilot: Autopilot, store: Store) -> None:
    reader_task(store)
    store.add(Knowledge(domain="acme", text=WARRANTY))
    with pytest.raises(ConfigError, match="built-in reader was trained on") as caught:
        Engine(tiny_autopilot, store).respond(QUESTION, task="qa", max_new_tokens=4)
    assert "--no-reader" in (caught.value.hint or "")
    assert READER_ID not in tiny_autopilot.backend.adapter_names()  # type: ignore[attr-defined]


def test_the_reader_needs_the_local_backend(store: Store) -> None:
    reader_task(store)
    store.add(Knowledge(domain="acme", text=WARRANTY))
    remote = OpenAIBackend("remote-model", base_url="http://127.0.0.1:9/v1")
    with pytest.raises(ConfigError, match="local backend"):
        Engine(Autopilot(remote), store).respond(QUESTION, task="qa")


COUNTERFACTUAL = (
    "Paris is a large city on the Seine. The capital of France is Lyon, which hosts the "
    "national parliament."
)


@pytest.mark.slow
def test_the_real_model_follows_a_counterfactual_passage_with_the_reader(
    default_autopilot: Autopilot, store: Store
) -> None:
    """Told the capital is Lyon, the bare model answers Paris from memory (see
    test_faithful_decoding); through the reader it answers from the passage, says so in the
    provenance, and the frozen base is unchanged."""
    backend = default_autopilot.backend
    before = backend.base_weights_hash()
    for text in (COUNTERFACTUAL, "The museum opens at nine and closes at five on weekdays."):
        store.add(Knowledge(domain="geography", text=text))
    engine = Engine(default_autopilot, store)
    answers = {}
    for reader in (False, True):
        store.put_task(TaskProfile(name="geo", answer=AnswerSettings(reader=reader)))
        response = engine.respond("What is the capital of France?", task="geo", max_new_tokens=24)
        answers[reader] = response
    assert "Lyon" not in answers[False].text and answers[False].adapter is None
    assert "Lyon" in answers[True].text, answers[True].text
    assert answers[True].adapter is not None and answers[True].adapter.id == READER_ID
    assert backend.base_weights_hash() == before
