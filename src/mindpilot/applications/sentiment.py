"""Sentiment analysis: labels scored by the model's likelihood, with similar labelled
experiences of the task retrieved as worked examples, or, when the task has an active adapter
(trained on those examples by `mindpilot adapt`), through the adapter and without examples.

An experience is an example when its `situation` is a text and its `response` a label, e.g.
`mp.add_experience("sentiment", "A joyless, plodding film.", response="negative")`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from mindpilot.adapters import classification_prompt, label_continuations
from mindpilot.engine import Engine, used_record
from mindpilot.errors import ValidationError
from mindpilot.mental_process.records import Experience, RetrievalSettings, TaskProfile
from mindpilot.self_taking import task_profile
from mindpilot.types import AdapterUse, UsedRecord

DEFAULT_LABELS = ("positive", "negative")


@dataclass(frozen=True)
class Classification:
    label: str
    probabilities: tuple[tuple[str, float], ...]  # (label, probability), as given
    used: tuple[UsedRecord, ...]  # the examples the prompt showed
    adapter: AdapterUse | None = None  # the task's adapter, when it has an active one

    def probability(self, label: str) -> float:
        return dict(self.probabilities)[label]


def classify(
    engine: Engine,
    text: str,
    *,
    task: str = "sentiment",
    namespace: str = "default",
    labels: tuple[str, ...] = DEFAULT_LABELS,
    examples: int | None = None,
) -> Classification:
    """The most likely label for `text`; `examples` caps the retrieved examples (default: the
    task's experience_top_k; 0 = none; always none with an active adapter)."""
    if not text.strip():
        raise ValidationError("the text to classify is empty")
    if len(set(labels)) < 2 or not all(label.strip() for label in labels):
        raise ValidationError("give at least two distinct, non-empty labels")
    adapter = _adapter(engine, namespace, task)
    if adapter is not None:
        examples = 0  # the adapter was trained on this prompt without examples
    # self-taking finds the similar labelled examples; the prompt is a completion prompt
    prepared = engine.prepare(
        text,
        task=task,
        namespace=namespace,
        use_memory=examples != 0 and engine.store is not None,
        profile=_example_profile(engine, namespace, task, examples),
    )
    taken = prepared.taken
    shown = [h.record for h in taken.experiences] if taken else []
    prompt = classification_prompt(
        text, [(r.situation, r.response) for r in shown if isinstance(r, Experience)]
    )
    scores = engine.autopilot.backend.score_text(
        prompt, label_continuations(labels), adapter=adapter.id if adapter else None
    )
    if adapter is not None:  # the adapter's label offsets, chosen on its validation split
        offsets = engine.adapter_manifest(namespace, adapter.id).label_offsets
        scores = [
            score + offsets.get(label, 0.0) for score, label in zip(scores, labels, strict=True)
        ]
    probabilities = _softmax(scores)
    best = max(range(len(labels)), key=lambda i: probabilities[i])
    return Classification(
        label=labels[best],
        probabilities=tuple(zip(labels, probabilities, strict=True)),
        used=tuple(used_record(h) for h in taken.experiences) if taken else (),
        adapter=adapter,
    )


def _adapter(engine: Engine, namespace: str, task: str) -> AdapterUse | None:
    if engine.store is None:
        return None
    return engine.apply_adapter(namespace, task_profile(engine.store, namespace, task).adapter)


def _example_profile(
    engine: Engine, namespace: str, task: str, examples: int | None
) -> TaskProfile | None:
    """Classification wants examples, not knowledge or persona; any similarity will do, since
    a labelled neighbour teaches the format even when its topic differs."""
    if engine.store is None:
        return None
    stored = task_profile(engine.store, namespace, task)
    k = stored.retrieval.experience_top_k if examples is None else examples
    if k <= 0:
        return None
    settings = RetrievalSettings(
        knowledge_top_k=0,
        experience_top_k=k,
        min_similarity=-1.0,
        knowledge_tokens=0,
        experience_tokens=max(stored.retrieval.experience_tokens, 64 * k),
    )
    return replace(stored, retrieval=settings)


def _softmax(scores: list[float]) -> list[float]:
    top = max(scores)
    weights = [math.exp(s - top) for s in scores]
    return [w / sum(weights) for w in weights]
