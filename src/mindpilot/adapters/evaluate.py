"""Validation through the serving path: what is measured is what a request will get.

Classification: accuracy of the most likely label (`Backend.score_text`, the scorer
`mindpilot classify` uses), after the label offset chosen on these same examples
(`calibrate`). Generation: token F1 of the greedy answer against the stored
response (SQuAD-style normalisation, as in every QA benchmark here).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

from mindpilot.adapters.data import Example, label_continuations
from mindpilot.metrics import token_f1
from mindpilot.types import GenerationConfig

# Greedy decoding is the cost of a generation check: a few dozen examples say enough.
MAX_GENERATION_CHECKS = 32
EXTRA_ANSWER_TOKENS = 16  # room past the reference's length before an answer is cut
# fewer held-out examples than this choose a label offset by chance more than by evidence
MIN_CALIBRATION = 20


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
    """A log-odds offset between two labels, chosen on the validation examples: the one that
    classifies most of them right, the smallest such (an adapter trained a few epochs leans
    to one label; on the default model this cost up to 3 points of accuracy). Added to the
    second label's score by `classify`. {} for more than two labels, or too few examples to
    choose from (fewer than MIN_CALIBRATION)."""
    if len(labels) != 2 or len(examples) < MIN_CALIBRATION:
        return {}
    margins = sorted(row[0] - row[1] for row in scores)  # label 1 wins when offset > margin
    # one candidate inside each interval between margins, and no offset at all
    candidates = [0.0, margins[0] - 1.0, margins[-1] + 1.0]
    candidates += [(a + b) / 2 for a, b in itertools.pairwise(margins) if a != b]
    best = max(
        candidates,
        key=lambda o: (accuracy(scores, examples, labels, {labels[1]: o}), -abs(o)),
    )
    return {labels[1]: best} if best != 0.0 else {}


def token_f1_score(backend: Any, examples: Sequence[Example], adapter: str | None) -> float:
    checked = examples[:MAX_GENERATION_CHECKS]
    total = 0.0
    for example in checked:
        limit = backend.count_text(example.target) + EXTRA_ANSWER_TOKENS
        config = GenerationConfig(max_new_tokens=limit, adapter=adapter)
        answer = backend.generate(list(example.messages), config).text
        total += token_f1(answer, example.target)
    return total / len(checked)
