"""Training examples from a task's own Mental Process records.

Each experience with a response is one example (situation -> response). Feedback weighs it:
no feedback counts 1, positive feedback up to 2 (1 + score), and negative feedback leaves it
out (a bad answer is not something to imitate). When the responses are a few short labels
(e.g. "positive"/"negative"), the task is a classification task and the examples are split
stratified by label.

The prompt of an example is the one the engine will compose when it serves the task with its
adapter: the task's persona, tone and relevant knowledge, and no worked examples (an active
adapter replaces in-context examples; it has learned them). Classification prompts are
completion prompts (`classification_prompt`), the same that `mindpilot classify` scores: the
bundled 135M model labels "Review: ...\nSentiment:" better than a chat turn (zero-shot 0.81
vs 0.72 on 400 rated movie-review sentences), and the adapter learns exactly that prompt.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from mindpilot.adapters.config import MIN_EXAMPLES, AdapterConfig
from mindpilot.errors import ValidationError
from mindpilot.mental_process.records import Experience, TaskProfile
from mindpilot.mental_process.store import Store
from mindpilot.self_taking import compose, take_from_mental_process, task_profile
from mindpilot.types import Message

MAX_LABELS = 20
MAX_LABEL_WORDS = 3


@dataclass(frozen=True)
class Example:
    messages: tuple[Message, ...]  # generation: the chat prompt the engine composes to serve
    target: str  # the answer to learn (classification: the label's continuation, " label")
    weight: float  # from feedback: 1 (none) .. 2 (best)
    record: tuple[str, int]  # (id, version) of the experience
    label: str | None = None  # classification tasks
    text: str | None = None  # classification: the completion prompt (no chat template)


@dataclass(frozen=True)
class TrainingSet:
    kind: str  # "classification" or "generation"
    labels: tuple[str, ...]
    train: tuple[Example, ...]
    validation: tuple[Example, ...]
    left_out: int  # experiences with negative feedback or no response

    @property
    def records(self) -> tuple[tuple[str, int], ...]:
        return tuple(e.record for e in (*self.train, *self.validation))


def classification_prompt(text: str, examples: Sequence[tuple[str, str]] = ()) -> str:
    """The completion prompt a label is scored after (by `classify`, and in adapter
    training), with worked (text, label) examples before it."""
    shots = "".join(f"Review: {_one_line(t)}\nSentiment: {label}\n\n" for t, label in examples)
    return f"{shots}Review: {_one_line(text)}\nSentiment:"


def label_continuations(labels: Sequence[str]) -> list[str]:
    """What is scored after `classification_prompt`: each label after a space."""
    return [f" {label}" for label in labels]


def _one_line(text: str) -> str:
    return " ".join(text.split())


def serving_profile(profile: TaskProfile) -> TaskProfile:
    """The task's profile as the engine uses it with an active adapter: no worked examples."""
    return replace(profile, retrieval=replace(profile.retrieval, experience_top_k=0))


def training_set(
    store: Store,
    namespace: str,
    task: str,
    config: AdapterConfig,
    count_tokens: Callable[[str], int],
    labels: Sequence[str] | None = None,
) -> TrainingSet:
    """The task's examples, split into training and validation. ValidationError (with the
    counts) when there are too few."""
    experiences = [
        r for r in store.list(namespace, kind="experience", task=task, limit=None)
        if isinstance(r, Experience)
    ]  # fmt: skip
    usable = [e for e in experiences if e.response.strip() and (e.score or 0.0) >= 0.0]
    _require(len(usable), MIN_EXAMPLES, task, len(experiences))
    usable.sort(key=lambda e: -(e.score or 0.0))  # best-rated first (newest first within)
    usable = usable[: config.max_examples]
    found = tuple(labels) if labels else detect_labels([e.response for e in usable])
    profile = serving_profile(task_profile(store, namespace, task))
    examples = [_example(store, namespace, task, e, found, profile, count_tokens) for e in usable]
    train, validation = _split(examples, config, bool(found))
    return TrainingSet(
        kind="classification" if found else "generation",
        labels=found,
        train=tuple(train),
        validation=tuple(validation),
        left_out=len(experiences) - len(usable),
    )


def detect_labels(responses: Sequence[str]) -> tuple[str, ...]:
    """The label set when every response is one of a few short labels, each given at least
    twice; () for a generation task."""
    counts: dict[str, int] = {}
    for response in responses:
        label = response.strip()
        counts[label] = counts.get(label, 0) + 1
    short = all(len(label.split()) <= MAX_LABEL_WORDS for label in counts)
    if 2 <= len(counts) <= MAX_LABELS and short and min(counts.values()) >= 2:
        return tuple(sorted(counts))
    return ()


def _example(
    store: Store,
    namespace: str,
    task: str,
    experience: Experience,
    labels: tuple[str, ...],
    profile: TaskProfile,
    count_tokens: Callable[[str], int],
) -> Example:
    target = experience.response.strip()
    weight = 1.0 + max(experience.score or 0.0, 0.0)
    record = (experience.id, experience.version)
    if labels:
        if target not in labels:
            raise ValidationError(
                f"experience {experience.id} has response {target!r}, not one of the labels "
                f"{', '.join(labels)}",
                hint="fix its response (`mindpilot memory update`), or give --labels",
            )
        prompt = classification_prompt(experience.situation)
        return Example((), f" {target}", weight, record, target, prompt)
    asked = [Message("user", experience.situation)]
    taken = take_from_mental_process(store, namespace, task, asked, count_tokens, profile)
    return Example(tuple(compose(taken, asked)), target, weight, record)


def _split(
    examples: list[Example], config: AdapterConfig, stratified: bool
) -> tuple[list[Example], list[Example]]:
    """Held-out validation examples: a share of each label (at least one), the rest trains."""
    rng = random.Random(config.seed)
    groups: dict[str | None, list[Example]] = {}
    for example in examples:
        groups.setdefault(example.label if stratified else None, []).append(example)
    want = min(config.max_validation, math.ceil(len(examples) * config.validation_share))
    train, validation = [], []
    for _, group in sorted(groups.items(), key=lambda g: str(g[0])):
        rng.shuffle(group)
        n = max(1, round(want * len(group) / len(examples)))
        validation += group[:n]
        train += group[n:]
    if not train:
        raise ValidationError("no training examples are left after the validation split")
    rng.shuffle(train)
    return train, validation


def _require(have: int, need: int, task: str, total: int) -> None:
    if have < need:
        raise ValidationError(
            f"task {task!r} has {have} usable examples (experiences with a response and no "
            f"negative feedback, of {total} experiences); training an adapter needs at least "
            f"{need}",
            hint=f"add examples: mindpilot memory add --kind experience --task {task} "
            '"SITUATION" --response "RESPONSE"',
        )
