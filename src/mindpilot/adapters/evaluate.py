"""Validation through the serving path: what is measured is what a request will get.

Classification: accuracy of the most likely label (`Backend.score_text`, the scorer
`mindpilot classify` uses). Generation: token F1 of the greedy answer against the stored
response (SQuAD-style normalisation, as in every QA benchmark here).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from mindpilot.adapters.data import Example, label_continuations
from mindpilot.metrics import token_f1
from mindpilot.types import GenerationConfig

# Greedy decoding is the cost of a generation check: a few dozen examples say enough.
MAX_GENERATION_CHECKS = 32
EXTRA_ANSWER_TOKENS = 16  # room past the reference's length before an answer is cut


def accuracy(
    backend: Any, examples: Sequence[Example], labels: Sequence[str], adapter: str | None
) -> float:
    right = 0
    for example in examples:
        assert example.text is not None  # classification examples carry their prompt text
        scores = backend.score_text(example.text, label_continuations(labels), adapter=adapter)
        right += labels[max(range(len(labels)), key=scores.__getitem__)] == example.label
    return right / len(examples)


def token_f1_score(backend: Any, examples: Sequence[Example], adapter: str | None) -> float:
    checked = examples[:MAX_GENERATION_CHECKS]
    total = 0.0
    for example in checked:
        limit = backend.count_text(example.target) + EXTRA_ANSWER_TOKENS
        config = GenerationConfig(max_new_tokens=limit, adapter=adapter)
        answer = backend.generate(list(example.messages), config).text
        total += token_f1(answer, example.target)
    return total / len(checked)
