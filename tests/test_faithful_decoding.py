"""Context-aware decoding (issue 12): the batched contrast pair against a slow reference
without caches, its place in retrieval during decoding, the engine's per-task alpha and the
remote fallback (tiny model, hashing embedder); one slow test on the real model."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import pytest
import torch

from mindpilot.autopilot import Autopilot, GenerationConfig, Message
from mindpilot.autopilot.backend import Backend
from mindpilot.autopilot.contrast import ContrastPair, SinglePass, contrast
from mindpilot.engine import Engine
from mindpilot.mental_process import Knowledge, RetrievalSettings, Store, TaskProfile
from mindpilot.mental_process.records import AnswerSettings
from mindpilot.self_taking import compose
from mindpilot.types import Generation, Stream

NS = "acme"
QUESTION = "What warranty do the Acme rocket skates carry?"
WARRANTY = "The Acme rocket skates carry a warranty of nine years."
WITH = [
    Message("system", "You are a calm agent."),
    Message("user", f"Reference information:\n<<<\n- {WARRANTY}\n>>>\n\n{QUESTION}"),
]
WITHOUT = [Message("system", "You are a calm agent."), Message("user", QUESTION)]


def reference(  # type: ignore[no-untyped-def]
    backend, prompts: list[list[int]], without: list[int], alpha: float, steps: int
) -> list[int]:
    """Greedy context-aware decoding without any cache: each step re-reads the whole "with"
    prompt (prompts[step], or the last one) and the "without" prompt, each with the answer."""
    out: list[int] = []
    with torch.inference_mode():
        for step in range(steps):
            with_ids = prompts[min(step, len(prompts) - 1)]
            z_with = backend.model(input_ids=torch.tensor([with_ids + out])).logits[0, -1]
            z_without = backend.model(input_ids=torch.tensor([without + out])).logits[0, -1]
            out.append(int(contrast(z_with.float(), z_without.float(), alpha).argmax()))
    return out


def text_of(backend, tokens: list[int]) -> str:  # type: ignore[no-untyped-def]
    """The text of reference tokens, cut where decoding stops (end of sequence)."""
    if any(t in backend._eos for t in tokens):
        tokens = tokens[: min(i for i, t in enumerate(tokens) if t in backend._eos)]
    return str(backend.tokenizer.decode(tokens, skip_special_tokens=True))


def test_alpha_zero_is_plain_decoding(tiny_autopilot: Autopilot) -> None:
    backend = tiny_autopilot.backend
    config = GenerationConfig(max_new_tokens=16)
    plain = backend.generate(WITH, config)
    for contrast_prompt in (None, WITHOUT):
        same = backend.stream_with_hook(WITH, config, None, contrast_prompt).finish()
        assert (same.text, same.usage) == (plain.text, plain.usage)
    # and the batched pair's "with" row reads exactly as a lone pass does, left padding or not
    with_ids, without_ids = backend.prompt_ids(WITH), backend.prompt_ids(WITHOUT)
    with torch.inference_mode():
        for first, second in ((with_ids, without_ids), (without_ids, with_ids)):
            pair, alone = (
                ContrastPair(backend.model, second, 0.0, pad_id=0),
                SinglePass(backend.model),
            )
            paired, single = pair.read(first, []), alone.read(first, [])
            for _ in range(6):
                assert torch.allclose(paired.own, single.own, atol=1e-4)
                assert int(paired.decode.argmax()) == int(single.decode.argmax())
                token = int(single.decode.argmax())
                paired, single = pair.step(token), alone.step(token)


@pytest.mark.parametrize("alpha", [0.5, 2.0])
def test_contrast_equals_two_uncached_passes(tiny_autopilot: Autopilot, alpha: float) -> None:
    backend = tiny_autopilot.backend
    config = GenerationConfig(max_new_tokens=10, faithfulness=alpha)
    # the shorter prompt is left-padded: once the "without" row, once the "with" row
    for first, second in ((WITH, WITHOUT), (WITHOUT, WITH)):
        generation = backend.stream_with_hook(first, config, None, second).finish()
        tokens = reference(
            backend, [backend.prompt_ids(first)], backend.prompt_ids(second), alpha, 10
        )
        assert generation.text == text_of(backend, tokens)
        assert generation.usage.prompt_tokens == len(backend.prompt_ids(first))
        assert generation.text != backend.generate(first, GenerationConfig(10)).text


class SwitchAt:
    """A DecodingHook that hands the backend `messages` at its `step`-th consultation."""

    def __init__(self, step: int, messages: Sequence[Message]) -> None:
        self.step, self.messages, self.calls, self.accepts = step, list(messages), 0, 0

    def consult(self, answer: str, confidence: float) -> Sequence[Message] | None:
        assert 0.0 < confidence <= 1.0
        self.calls += 1
        return self.messages if self.calls - 1 == self.step else None

    def accepted(self) -> None:
        self.accepts += 1


def test_branches_stay_separate_across_a_prompt_switch(tiny_autopilot: Autopilot) -> None:
    backend = tiny_autopilot.backend
    wider = [WITH[0], Message("user", WITH[1].content.replace(">>>", "- Wheels are extra.\n>>>"))]
    hook = SwitchAt(3, wider)
    config = GenerationConfig(max_new_tokens=10, faithfulness=1.0)
    generation = backend.stream_with_hook(WITH, config, hook, WITHOUT).finish()
    assert hook.accepts == 1
    prompts = [backend.prompt_ids(WITH)] * 3 + [backend.prompt_ids(wider)]
    tokens = reference(backend, prompts, backend.prompt_ids(WITHOUT), 1.0, 10)
    assert generation.text == text_of(backend, tokens)
    assert generation.usage.prompt_tokens == len(backend.prompt_ids(wider))


def test_streaming_and_stop_strings_are_unchanged(tiny_autopilot: Autopilot) -> None:
    backend = tiny_autopilot.backend
    config = GenerationConfig(max_new_tokens=24, faithfulness=1.0)
    stream = backend.stream_with_hook(WITH, config, None, WITHOUT)
    pieces = list(stream)
    free = stream.finish().text
    assert len(pieces) > 1 and "".join(pieces) == free
    stop = free[6:9]
    cut = backend.stream_with_hook(WITH, replace(config, stop=(stop,)), None, WITHOUT)
    assert "".join(cut) == free[: free.index(stop)] == cut.finish().text
    assert cut.finish().finish_reason == "stop"


def faithful_task(store: Store, alpha: float) -> None:
    store.put_task(
        TaskProfile(
            name="support",
            namespace=NS,
            personality="a calm agent",
            expertise=("acme",),
            retrieval=RetrievalSettings(decode_retrievals=0, min_similarity=0.05),
            answer=AnswerSettings(faithfulness=alpha),
        )
    )
    store.add(Knowledge(namespace=NS, domain="acme", text=WARRANTY))


def test_the_engine_contrasts_with_the_request_without_records(
    tiny_autopilot: Autopilot, store: Store
) -> None:
    faithful_task(store, 1.5)
    engine = Engine(tiny_autopilot, store)
    prepared = engine.prepare(QUESTION, task="support", namespace=NS)
    assert prepared.taken is not None and prepared.taken.knowledge
    response = engine.respond(QUESTION, task="support", namespace=NS, max_new_tokens=12)
    without = compose(prepared.taken, prepared.request, facts=False)
    assert "calm agent" in without[0].content and WARRANTY not in without[-1].content
    expected = tiny_autopilot.backend.stream_with_hook(
        list(prepared.messages),
        GenerationConfig(max_new_tokens=12, faithfulness=1.5),
        None,
        without,
    ).finish()
    assert response.faithfulness == 1.5 and response.text == expected.text
    assert response.generation.usage == expected.usage
    # a request may set its own alpha; with nothing taken there is nothing to contrast
    assert (
        engine.respond(QUESTION, task="support", namespace=NS, faithfulness=0.5).faithfulness == 0.5
    )
    assert engine.respond("Hello there", task="support", namespace=NS).faithfulness == 0.0


class RemoteLike(Backend):
    """A backend without logits (as the openai one): streams, but cannot contrast."""

    name = "remote-like"

    def __init__(self, inner: Backend) -> None:
        self.inner, self.model_name, self.context_window = inner, inner.model_name, 256
        self.contrasts: list[Any] = []

    def stream(self, messages: Sequence[Message], config: GenerationConfig) -> Stream[Generation]:
        return self.inner.stream(messages, replace(config, faithfulness=0.0))

    def stream_with_hook(self, messages, config, hook, contrast=None):  # type: ignore[no-untyped-def]
        self.contrasts.append(contrast)
        return super().stream_with_hook(messages, config, hook, contrast)

    def count_tokens(self, messages: Sequence[Message]) -> int:
        return self.inner.count_tokens(messages)


def test_a_remote_backend_falls_back_to_plain_decoding(
    tiny_autopilot: Autopilot, store: Store
) -> None:
    faithful_task(store, 2.0)
    remote = RemoteLike(tiny_autopilot.backend)
    response = Engine(Autopilot(remote), store).respond(
        QUESTION, task="support", namespace=NS, max_new_tokens=12
    )
    assert response.faithfulness == 0.0 and remote.contrasts == []
    assert (
        response.text
        == tiny_autopilot.backend.generate(
            list(response.prompt), GenerationConfig(max_new_tokens=12)
        ).text
    )
    local = Engine(tiny_autopilot, store).respond(
        QUESTION, task="support", namespace=NS, max_new_tokens=12, faithfulness=0.0
    )
    assert local.faithfulness == 2.0  # the task's alpha: a request's 0 means "not set"


# ---- the real model ----------------------------------------------------------------------
COUNTERFACTUAL = (
    "Paris is a large city on the Seine. The capital of France is Lyon, which hosts the "
    "national parliament."
)


@pytest.mark.slow
def test_the_real_model_follows_a_counterfactual_record_only_when_faithful(
    default_autopilot: Autopilot, store: Store
) -> None:
    """Told the capital is Lyon, the bundled model still answers Paris from memory; with
    context-aware decoding it follows the record (measured: from alpha 0.75 to 3 here; at 0.5
    it answers in French without Lyon). The bare sentence "The capital of France is Lyon." is
    followed even without it, so it would test nothing."""
    for text in (COUNTERFACTUAL, "The museum opens at nine and closes at five on weekdays."):
        store.add(Knowledge(namespace=NS, domain="geography", text=text))
    engine = Engine(default_autopilot, store)
    answers = {}
    for alpha in (0.0, 1.0, 2.0):
        store.put_task(
            TaskProfile(
                name="geo",
                namespace=NS,
                expertise=("geography",),
                answer=AnswerSettings(faithfulness=alpha),
            )
        )
        response = engine.respond(
            "What is the capital of France?", task="geo", namespace=NS, max_new_tokens=32
        )
        assert response.faithfulness == alpha and len(response.used) >= 1
        answers[alpha] = response.text
    assert "Paris" in answers[0.0] and "Lyon" not in answers[0.0], answers
    assert "Lyon" in answers[1.0] and "Lyon" in answers[2.0], answers
