"""Tone as a measured control: the scorer, steering vectors (computed, stored per base model,
refused for another base) and the decode loop's steering hook, on the tiny random model."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from mindpilot.autopilot import Autopilot
from mindpilot.autopilot.openai_backend import OpenAIBackend
from mindpilot.autopilot.steering import SteeringLibrary, steered
from mindpilot.autopilot.transformers_backend import TransformersBackend
from mindpilot.cli import cli
from mindpilot.engine import Engine, tone_control
from mindpilot.errors import ConfigError, ValidationError
from mindpilot.mental_process import Emotion, Knowledge, TaskProfile
from mindpilot.mental_process.records import AnswerSettings
from mindpilot.mental_process.store import open_store
from mindpilot.self_taking import TakenRecords
from mindpilot.tone import TONES, require_tone
from mindpilot.tone.score import score
from mindpilot.types import GenerationConfig, Message, Timings

NS = "shop"
PROMPT = [Message("user", "My parcel is late, where is it?")]


@pytest.fixture
def backend(tiny_autopilot: Autopilot) -> TransformersBackend:
    backend = tiny_autopilot.backend
    assert isinstance(backend, TransformersBackend)
    return backend


@pytest.fixture
def empathy(backend: TransformersBackend) -> str:
    """The empathy vector's id, computed for the tiny model into this test's home."""
    return backend.steering_vector(TONES["empathy"], SteeringLibrary()).id


# ---- the scorer ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "tone", "carried"),
    [
        ("I'm so sorry to hear that, I understand. It ships on Monday.", "empathy", True),
        ("It ships on Monday.", "empathy", False),
        ("Great news, I'd love to help! It ships on Monday.", "enthusiasm", True),
        ("Please note that we are pleased to assist regarding your inquiry.", "formality", True),
        ("hey yeah it's cool, gonna ship soon lol", "formality", False),
        ("Don't worry, take your time; there is no rush.", "calm", True),
        ("Act immediately! This is URGENT, right now!", "urgency", True),
        ("This is a wonderful, excellent result.", "positivity", True),
        ("This is a terrible, awful result.", "positivity", False),
    ],
)
def test_the_scorer_reads_each_tone(text: str, tone: str, carried: bool) -> None:
    assert score(text).carries(TONES[tone]) is carried


def test_sentiment_agrees_with_people_on_vaders_rated_sentences() -> None:
    from mindpilot.bench.datasets import balanced_sample, vader_movie_reviews

    sample = balanced_sample(vader_movie_reviews(min_strength=2.0), 400)
    right = sum((score(i.text).sentiment > 0) == (i.label == "positive") for i in sample)
    assert right / len(sample) > 0.65  # measured 0.78 on strongly rated sentences


def test_an_unknown_tone_lists_the_known_ones() -> None:
    with pytest.raises(ValidationError, match="not a measured tone") as err:
        require_tone("grumpy")
    assert err.value.hint is not None and all(name in err.value.hint for name in TONES)
    assert require_tone("Warmth").name == "empathy"  # aliases, any case


# ---- the steering hook -----------------------------------------------------------------------
def test_strength_zero_decodes_exactly_as_plain(backend: TransformersBackend, empathy: str) -> None:
    plain = backend.generate(PROMPT, GenerationConfig(max_new_tokens=12, logprobs=0))
    off = GenerationConfig(max_new_tokens=12, logprobs=0, steering=empathy, steering_strength=0)
    zero = backend.generate(PROMPT, off)
    assert [t.token for t in zero.logprobs] == [t.token for t in plain.logprobs]
    assert zero.text == plain.text


def test_steering_leaves_the_prompt_positions_alone(
    backend: TransformersBackend, empathy: str
) -> None:
    """The records in the prompt are read as they are: only positions from `start` move."""
    vector = backend._steering[empathy]
    ids = torch.tensor([backend.prompt_ids(PROMPT)])
    start = ids.shape[1] - 1

    def hidden() -> torch.Tensor:
        out = backend.base(input_ids=ids, output_hidden_states=True)
        # the layer after the steered one: its input is what the hook returned (causal, so
        # a position only sees itself and those before it)
        return out.hidden_states[vector.layer + 2][0]  # (positions, hidden)

    with torch.inference_mode():
        plain = hidden()
        with steered(backend.base, vector, 4.0, start):
            moved = hidden()
    assert torch.equal(moved[:start], plain[:start])
    assert not torch.allclose(moved[start:], plain[start:])


def test_steering_changes_the_answer_and_leaves_no_hook(
    backend: TransformersBackend, empathy: str
) -> None:
    layers = backend.base.get_decoder().layers
    hooks = [len(layer._forward_hooks) for layer in layers]  # transformers keeps its own
    config = GenerationConfig(max_new_tokens=12, logprobs=0)
    plain = backend.generate(PROMPT, config)
    steered = GenerationConfig(max_new_tokens=12, logprobs=0, steering=empathy, steering_strength=8)
    changed = backend.generate(PROMPT, steered)
    assert [t.logprob for t in changed.logprobs] != [t.logprob for t in plain.logprobs]
    assert backend.generate(PROMPT, config).logprobs == plain.logprobs  # the hook is gone
    assert [len(layer._forward_hooks) for layer in layers] == hooks


def test_steering_keeps_streaming_and_stop_strings(
    backend: TransformersBackend, empathy: str
) -> None:
    config = GenerationConfig(max_new_tokens=24, steering=empathy, steering_strength=4)
    full = backend.generate(PROMPT, config).text
    stream = backend.stream(PROMPT, config)
    assert "".join(stream) == full == stream.result.text  # type: ignore[union-attr]
    if len(full) > 4:
        stop = full[2:4]
        cut = backend.generate(PROMPT, GenerationConfig(**{**vars(config), "stop": (stop,)}))
        assert cut.text == full[: full.index(stop)]


def test_steering_composes_with_context_aware_decoding(
    backend: TransformersBackend, empathy: str
) -> None:
    without = [Message("user", "Where is it?")]
    config = GenerationConfig(max_new_tokens=8, faithfulness=1.0, steering=empathy)
    plain = backend.stream_with_hook(PROMPT, config, None, without).finish()
    steered = GenerationConfig(**{**vars(config), "steering_strength": 4.0})
    moved = backend.stream_with_hook(PROMPT, steered, None, without).finish()
    assert moved.usage.completion_tokens > 0 and plain.usage.completion_tokens > 0


# ---- stored vectors --------------------------------------------------------------------------
def test_a_vector_is_computed_once_listed_and_refused_for_another_base(
    backend: TransformersBackend, empathy: str, tiny_model_dir: Path
) -> None:
    library = SteeringLibrary()
    saved = library.find(backend.base_weights_hash(), "empathy")
    assert saved is not None and saved.id == empathy and saved.version == 1
    assert [v.id for v in library.list()] == [empathy]
    listed = CliRunner().invoke(cli, ["tone", "list", "--json"])
    assert listed.exit_code == 0 and empathy in listed.output and "formality" in listed.output
    # another base: the same architecture with other weights
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.manual_seed(1)
    other_model = AutoModelForCausalLM.from_config(backend.base.config)
    other = TransformersBackend(other_model, AutoTokenizer.from_pretrained(tiny_model_dir))
    source = library.path(backend.base_weights_hash(), "empathy")
    target = library.path(other.base_weights_hash(), "empathy")
    target.parent.mkdir(parents=True)
    shutil.copy(source, target)  # a vector copied in from the first base
    with pytest.raises(ConfigError, match="computed for another base model") as err:
        other.steering_vector(TONES["empathy"], library)
    assert err.value.hint is not None and "delete" in err.value.hint


# ---- through the engine ----------------------------------------------------------------------
def _support_engine(autopilot: Autopilot, tmp_path: Path, intensity: float) -> Engine:
    store = open_store(tmp_path / "mp.db", embedder="hashing")
    steer = AnswerSettings(steer_tone=True)
    store.put_task(TaskProfile(name="support", namespace=NS, expertise=("shop",), answer=steer))
    store.add(Knowledge(namespace=NS, domain="shop", text="Parcels ship within 2 days."))
    store.add(Emotion(namespace=NS, task="support", state="empathy", intensity=intensity))
    return Engine.open(autopilot, store=store)


@pytest.fixture
def words_end_sentences(monkeypatch: pytest.MonkeyPatch) -> None:
    """The tiny random model writes no punctuation: here a "sentence" ends after a word."""
    monkeypatch.setattr(tone_control, "_SENTENCE_END", re.compile(r"\S+(?=\s)"))


def test_an_emotion_steers_and_every_answer_is_scored_and_audited(
    tiny_autopilot: Autopilot, tmp_path: Path, words_end_sentences: None
) -> None:
    engine = _support_engine(tiny_autopilot, tmp_path, 0.8)
    response = engine.respond(PROMPT, task="support", namespace=NS, max_new_tokens=16)
    use = response.tone_use
    assert use is not None and use.control == "steering" and use.vector is not None
    assert use.strength == pytest.approx(0.8 * tone_control.FULL_STRENGTH)
    # the steered opening leads the answer; the rest is decoded without the vector
    assert use.opening and response.text.startswith(use.opening + " ")
    plain = engine.autopilot.generate(list(response.prompt), max_new_tokens=16)
    rest = response.text[len(use.opening) + 1 :]
    assert plain.text.startswith(rest) and rest
    assert response.generation.usage.completion_tokens <= 16
    assert use.score is not None and use.carried is not None
    assert engine.audit is not None
    entry = engine.audit.get(NS, response.audit_id or "")
    assert entry.tone_use == use
    shown = engine.audit.list(NS, tone="empathy", carried=use.carried)
    assert [e.id for e in shown] == [entry.id]
    assert engine.audit.list(NS, tone="empathy", carried=not use.carried) == []
    (day,) = engine.audit.tone_adherence(NS)
    assert (day.task, day.tone, day.answers, day.carried) == ("support", "empathy", 1, use.carried)
    store = str(tmp_path / "mp.db")
    listed = CliRunner().invoke(
        cli, ["log", "list", "-n", NS, "--store", store, "--tone", "empathy"]
    )
    assert listed.exit_code == 0 and entry.id in listed.output
    report = CliRunner().invoke(cli, ["log", "tone", "-n", NS, "--store", store])
    assert report.exit_code == 0 and "empathy" in report.output


def test_a_retried_opening_is_kept_only_when_it_carries_the_tone(
    tiny_autopilot: Autopilot, tmp_path: Path, words_end_sentences: None
) -> None:
    engine = _support_engine(tiny_autopilot, tmp_path, 0.8)
    first = engine.respond(PROMPT, task="support", namespace=NS, max_new_tokens=16).tone_use
    retry = AnswerSettings(steer_tone=True, retry_tone=True)
    profile = TaskProfile(name="support", namespace=NS, expertise=("shop",), answer=retry)
    engine.store.put_task(profile)
    again = engine.respond(PROMPT, task="support", namespace=NS, max_new_tokens=16).tone_use
    assert first is not None and again is not None and first.opening
    # random words carry no empathy, at either strength: the first opening stays
    assert score(first.opening).empathy == 0 and not tone_control._carries(
        tone_control.Opening(first.opening, 1, first_timings()), first
    )
    assert (again.opening, again.strength, again.note) == (first.opening, first.strength, "")
    sorry = tone_control.Opening("I'm so sorry, I understand.", 1, first_timings())
    assert tone_control._carries(sorry, first)


def first_timings() -> Timings:
    return Timings(0.0, 0.0, 0.0)


def test_structured_answers_and_no_sentence_get_the_prompt_line_only(
    tiny_autopilot: Autopilot, tmp_path: Path
) -> None:
    engine = _support_engine(tiny_autopilot, tmp_path, 0.8)
    schema = {"type": "object", "properties": {"ok": {"type": "boolean"}}, "required": ["ok"]}
    as_json = engine.respond(PROMPT, task="support", namespace=NS, json_schema=schema)
    assert as_json.tone_use is not None and as_json.tone_use.control == "prompt"
    assert "structured" in as_json.tone_use.note and as_json.text.lstrip().startswith("{")
    # no punctuation from the random model: no opening sentence, nothing steered is shown
    use = engine.respond(PROMPT, task="support", namespace=NS, max_new_tokens=16).tone_use
    assert use is not None and use.control == "prompt" and "no opening sentence" in use.note
    assert use.opening == ""


def test_intensity_zero_is_the_prompt_line_only(tiny_autopilot: Autopilot, tmp_path: Path) -> None:
    engine = _support_engine(tiny_autopilot, tmp_path, 0.0)
    use = engine.respond(PROMPT, task="support", namespace=NS, max_new_tokens=4).tone_use
    assert use is not None and use.control == "prompt" and "intensity 0" in use.note


def test_a_remote_backend_gets_prompt_guidance_only(tiny_autopilot: Autopilot) -> None:
    remote = OpenAIBackend("remote-model", base_url="http://127.0.0.1:9/v1")
    emotion = Emotion(namespace=NS, task="support", state="empathy", intensity=1.0)
    profile = TaskProfile(name="support", answer=AnswerSettings(steer_tone=True))
    taken = TakenRecords(profile, "q", emotion=emotion, tone="empathy")
    use = tone_control.plan(taken, remote, SteeringLibrary())
    assert use is not None and use.control == "prompt" and use.vector is None
    assert "openai backend gets prompt guidance only" in use.note


def test_bad_input_is_one_line_with_a_fix(tmp_path: Path) -> None:
    store = str(tmp_path / "mp.db")
    add = ["memory", "add", "--store", store, "--kind", "emotion", "--task", "support"]
    high = CliRunner().invoke(cli, [*add, "empathy", "--intensity", "1.5"])
    assert high.exit_code == 1 and "outside [0.0, 1.0]" in high.output
    assert "from 0 to 1" in high.output and "Traceback" not in high.output
    odd = CliRunner().invoke(cli, [*add, "grumpy"])
    assert odd.exit_code == 0 and "not a measured tone" in odd.output and "empathy" in odd.output
    unknown = CliRunner().invoke(cli, ["tone", "build", "grumpy"])
    assert unknown.exit_code == 1 and "formality" in unknown.output


def test_a_task_steers_only_when_it_asks_to(tiny_autopilot: Autopilot, tmp_path: Path) -> None:
    engine = _support_engine(tiny_autopilot, tmp_path, 0.8)
    engine.store.put_task(TaskProfile(name="support", namespace=NS, expertise=("shop",)))
    use = engine.respond(PROMPT, task="support", namespace=NS, max_new_tokens=4).tone_use
    assert use is not None and use.control == "prompt" and "--steer-tone" in use.note
