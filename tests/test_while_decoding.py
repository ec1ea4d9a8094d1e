"""Self-taking during decoding: the backend's re-read after a hook, and the engine searching
again when the model is unsure (tiny model, hashing embedder)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from functools import partial

import torch

from mindpilot.autopilot import Autopilot, GenerationConfig, Message
from mindpilot.engine import Engine
from mindpilot.mental_process import Knowledge, RetrievalSettings, Store, TaskProfile
from mindpilot.monitor.audit import AuditLog

NS = "acme"
QUESTION = "What warranty do the Acme rocket skates carry?"
WARRANTY = "The Acme rocket skates carry a warranty of nine years."
WHEELS = "The Acme rocket skates have ceramic wheels that the warranty does not cover."
ALWAYS_UNSURE = RetrievalSettings(knowledge_top_k=1, min_similarity=0.05, unsure_below=1.0)


class SwitchAt:
    """A DecodingHook that hands the backend `messages` at its `step`-th consultation."""

    def __init__(self, step: int, messages: Sequence[Message]) -> None:
        self.step, self.messages, self.calls, self.accepts = step, list(messages), 0, 0
        self.answer_at_switch = ""

    def consult(self, answer: str, confidence: float) -> Sequence[Message] | None:
        assert 0.0 < confidence <= 1.0
        self.calls += 1
        if self.calls - 1 != self.step:
            return None
        self.answer_at_switch = answer
        return self.messages

    def accepted(self) -> None:
        self.accepts += 1


def greedy(backend, ids: list[int], steps: int) -> list[int]:  # type: ignore[no-untyped-def]
    """Reference decoding without a KV cache: each step re-reads everything."""
    out: list[int] = []
    with torch.inference_mode():
        for _ in range(steps):
            logits = backend.model(input_ids=torch.tensor([ids + out])).logits[0, -1]
            out.append(int(logits.argmax()))
    return out


def test_after_a_switch_the_answer_continues_from_the_new_prompt(tiny_autopilot: Autopilot) -> None:
    backend = tiny_autopilot.backend
    first = [Message("user", QUESTION)]
    second = [Message("system", "Reference: " + WARRANTY), Message("user", QUESTION)]
    hook = SwitchAt(3, second)
    config = GenerationConfig(max_new_tokens=10)
    generation = backend.stream_with_hook(first, config, hook).finish()
    assert hook.accepts == 1 and hook.calls >= 4
    before = greedy(backend, backend.prompt_ids(first), 3)
    after = greedy(backend, backend.prompt_ids(second) + before, 7)
    tokens = before + after
    if any(t in backend._eos for t in tokens):  # the reference must stop where decoding stops
        tokens = tokens[: min(i for i, t in enumerate(tokens) if t in backend._eos)]
    # decoded as the backend decodes (special tokens a random model may pick are not text)
    text = partial(backend.tokenizer.decode, skip_special_tokens=True,
                   clean_up_tokenization_spaces=False)  # fmt: skip
    assert generation.text == text(tokens)
    assert hook.answer_at_switch == text(before)
    assert generation.usage.prompt_tokens == len(backend.prompt_ids(second))


def test_a_switch_that_would_not_fit_the_context_is_declined(tiny_autopilot: Autopilot) -> None:
    backend = tiny_autopilot.backend
    huge = [Message("user", "skates " * 400)]  # far past the tiny model's 256 tokens
    hook = SwitchAt(1, huge)
    plain = backend.generate([Message("user", QUESTION)], GenerationConfig(max_new_tokens=8))
    hooked = backend.stream_with_hook(
        [Message("user", QUESTION)], GenerationConfig(max_new_tokens=8), hook
    ).finish()
    assert hook.accepts == 0 and hooked.text == plain.text


def support(store: Store, settings: RetrievalSettings) -> None:
    store.put_task(
        TaskProfile(name="support", namespace=NS, expertise=("acme",), retrieval=settings)
    )
    for text in (WARRANTY, WHEELS):
        store.add(Knowledge(namespace=NS, domain="acme", text=text))


def test_unsure_model_takes_more_knowledge_mid_answer(
    tiny_autopilot: Autopilot, store: Store
) -> None:
    support(store, ALWAYS_UNSURE)
    engine = Engine(tiny_autopilot, store, AuditLog(store))
    response = engine.respond(QUESTION, task="support", namespace=NS, max_new_tokens=40)
    stages = {u.stage for u in response.used}
    assert stages == {"prompt", "decoding"}, response.text
    texts = {store.get(NS, u.id).text: u.stage for u in response.used}  # type: ignore[attr-defined]
    assert texts == {WARRANTY: "prompt", WHEELS: "decoding"}
    # the prompt on record is the one the end of the answer was conditioned on
    assert WARRANTY in response.prompt[-1].content and WHEELS in response.prompt[-1].content
    assert response.generation.usage.prompt_tokens == tiny_autopilot.count_tokens(response.prompt)
    assert response.memory_tokens == tiny_autopilot.count_tokens(
        response.prompt
    ) - tiny_autopilot.count_tokens(response.request)
    assert 1 <= response.decode_searches <= ALWAYS_UNSURE.decode_retrievals
    assert response.decode_retrieval_s > 0
    entry = engine.audit.get(NS, response.audit_id)  # type: ignore[union-attr, arg-type]
    assert [u.stage for u in entry.used] == [u.stage for u in response.used]


def test_a_sure_model_or_a_task_that_says_no_searches_once(
    tiny_autopilot: Autopilot, store: Store
) -> None:
    for settings in (
        replace(ALWAYS_UNSURE, unsure_below=0.0),
        replace(ALWAYS_UNSURE, decode_retrievals=0),
    ):
        store.put_task(
            TaskProfile(name="support", namespace=NS, expertise=("acme",), retrieval=settings)
        )
        if not store.list(NS):
            support(store, settings)
        engine = Engine(tiny_autopilot, store)
        prepared = engine.prepare(QUESTION, task="support", namespace=NS)
        response = engine.respond(QUESTION, task="support", namespace=NS, max_new_tokens=40)
        assert response.decode_searches == 0
        assert [u.stage for u in response.used] == ["prompt"]
        assert response.prompt == prepared.messages


def test_mid_answer_knowledge_respects_the_budget(tiny_autopilot: Autopilot, store: Store) -> None:
    budget = tiny_autopilot.count_text(WARRANTY)  # room for the first record only
    support(store, replace(ALWAYS_UNSURE, knowledge_tokens=budget))
    response = Engine(tiny_autopilot, store).respond(
        QUESTION, task="support", namespace=NS, max_new_tokens=40
    )
    assert response.decode_searches >= 1
    assert [u.stage for u in response.used] == ["prompt"]
