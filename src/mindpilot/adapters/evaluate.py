"""Validation through the serving path: what is measured is what a request will get.

Classification: accuracy of the most likely label (`Backend.score_text`, the scorer
`mindpilot classify` uses), after the label offset chosen on these same examples
(`calibrate`). Generation: token F1 of the greedy answer against the stored
response (SQuAD-style normalisation, as in every QA benchmark here).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from mindpilot.adapters.data import Example, label_continuations
from mindpilot.metrics import token_f1
from mindpilot.types import GenerationConfig

# Greedy decoding is the cost of a generation check: a few dozen examples say enough.
MAX_GENERATION_CHECKS = 32
EXTRA_ANSWER_TOKENS = 16  # room past the reference's length before an answer is cut
# fewer held-out examples than this fit a label offset to chance more than to evidence
MIN_CALIBRATION = 20
MAX_OFFSET = 20.0  # nats: an offset beyond this would decide every answer by itself


def label_scores(
    backend: Any, examples: Sequence[Example], labels: Sequence[str], adapter: str | None
) -> list[list[float]]:
    """Each example's log-probability of each label, as `classify` scores them."""
    scored = []
    for example in examples:
        assert example.text is not None  # classification examples carry their prompt text
        scored.append(
            backend.score_text(example.text, label_continuations(labels), adapter=adapter)
        )
    return scored


def accuracy(
    scores: Sequence[Sequence[float]],
    examples: Sequence[Example],
    labels: Sequence[str],
    offsets: dict[str, float] | None = None,
) -> float:
    """Share of examples whose likeliest label (after `offsets`, by label) is theirs."""
    shift = [(offsets or {}).get(label, 0.0) for label in labels]
    right = 0
    for row, example in zip(scores, examples, strict=True):
        best = max(range(len(labels)), key=lambda i: row[i] + shift[i])
        right += labels[best] == example.label
    return right / len(examples)


def calibrate(
    scores: Sequence[Sequence[float]], examples: Sequence[Example], labels: Sequence[str]
) -> dict[str, float]:
    """A log-odds offset between two labels, fitted on the validation examples: the bias that
    minimises their cross-entropy (Platt scaling's bias term, the slope kept at 1). An adapter
    trained a few epochs leans to one label, and the offset takes the lean out; it is added to
    the second label's score by `classify`. {} for more than two labels, or fewer examples
    than MIN_CALIBRATION.

    The offset that maximises validation accuracy instead was measured worse on a dev split
    (see docs/adapters.md): it jumps to wherever a few examples flip, while the
    cross-entropy moves with every example's margin."""
    if len(labels) != 2 or len(examples) < MIN_CALIBRATION:
        return {}
    margins = [row[1] - row[0] for row in scores]  # > 0: the second label wins
    signs = [1.0 if example.label == labels[1] else -1.0 for example in examples]

    def slope(offset: float) -> float:  # derivative of the mean cross-entropy: increasing
        return sum(-y / (1.0 + math.exp(min(y * (m + offset), 700.0)))
                   for m, y in zip(margins, signs, strict=True)) / len(margins)  # fmt: skip

    low, high = -MAX_OFFSET, MAX_OFFSET
    for _ in range(60):  # bisection on the derivative of a convex function
        middle = (low + high) / 2
        low, high = (middle, high) if slope(middle) < 0 else (low, middle)
    offsets = {labels[1]: round((low + high) / 2, 4)}
    # an over-confident adapter's few confidently wrong examples can pull the fit past where
    # most examples are right (measured: +2.0 nats and 0.83 -> 0.79 at 256 examples): an
    # offset that lowers validation accuracy is not kept
    if accuracy(scores, examples, labels, offsets) < accuracy(scores, examples, labels):
        return {}
    return offsets if offsets[labels[1]] != 0.0 else {}


def token_f1_score(backend: Any, examples: Sequence[Example], adapter: str | None) -> float:
    checked = examples[:MAX_GENERATION_CHECKS]
    total = 0.0
    for example in checked:
        limit = backend.count_text(example.target) + EXTRA_ANSWER_TOKENS
        config = GenerationConfig(max_new_tokens=limit, adapter=adapter)
        answer = backend.generate(list(example.messages), config).text
        total += token_f1(answer, example.target)
    return total / len(checked)
