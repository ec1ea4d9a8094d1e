"""Sentiment accuracy against the number of labelled examples stored in the Mental Process.

    python -m mindpilot.bench.sentiment_curve [--quick]

Data: the human-rated movie-review sentences of VADER (Hutto & Gilbert 2014, from its sdist;
see `mindpilot.bench.datasets`), sentences rated at least 1 away from neutral. One fixed balanced
sample is classified at every k; the k stored examples (experiences of the task: sentence ->
label) come from the other sentences, half of each label, each k's set a prefix of the next.
`applications.sentiment.classify` shows the model the 4 most similar stored examples (all of
them when k < 4) and picks the likelier label. Baselines, same sample: the majority class of
the dataset, and chance (1 / number of labels).
"""

from __future__ import annotations

import math
import os
import random
import sys
import tempfile
from collections import Counter
from itertools import zip_longest
from pathlib import Path
from typing import Any

from mindpilot.bench.common import EMBEDDER, MODEL, machine, set_threads, simple_main

NAME, TITLE = "sentiment_curve", "Sentiment accuracy vs stored labelled examples"
STORED = (0, 4, 16, 64)
SHOWN = 4  # examples put into each prompt, the most similar of those stored
TASK = "sentiment"


def run(quick: bool = False) -> dict[str, Any]:
    from mindpilot.applications.sentiment import DEFAULT_LABELS
    from mindpilot.autopilot import Autopilot
    from mindpilot.bench.datasets import balanced_sample, vader_movie_reviews
    from mindpilot.engine import Engine
    from mindpilot.mental_process import open_store

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    set_threads(1)
    items = vader_movie_reviews()
    test = balanced_sample(items, 8 if quick else 80, seed=7)
    held_out = {x.text for x in test}
    pool = balanced_prefixes([x for x in items if x.text not in held_out], max(STORED))
    majority = Counter(x.label for x in items).most_common(1)[0][0]
    with tempfile.TemporaryDirectory() as folder:
        store = open_store(Path(folder) / "sentiment.db", embedder="minilm")
        engine = Engine(Autopilot.load(), store)
        curve = [_accuracy(engine, store, test, pool[:k]) | {"stored": k} for k in STORED]
        store.close()
    return {
        "machine": machine(1),
        "model": f"{MODEL}; embedder {EMBEDDER}",
        "data": f"VADER movie-review sentences (|rating| >= 1; {len(items)} in all): a balanced "
        f"sample of {len(test)} classified at every k; examples from the other sentences",
        "baseline": f"majority class of the dataset ('{majority}') and chance, same sample",
        "labels": list(DEFAULT_LABELS),
        "items": len(test),
        "shown": SHOWN,
        "majority_label": majority,
        "majority_accuracy": sum(x.label == majority for x in test) / len(test),
        "chance_accuracy": 1 / len(DEFAULT_LABELS),
        "curve": curve,
    }


def balanced_prefixes(items: list[Any], n: int) -> list[Any]:
    """n items alternating positive / negative, so that every even prefix is balanced."""
    rng = random.Random(1)
    pos = rng.sample([x for x in items if x.label == "positive"], n // 2)
    neg = rng.sample([x for x in items if x.label == "negative"], n // 2)
    return [x for pair in zip_longest(pos, neg) for x in pair if x is not None]


def _accuracy(engine: Any, store: Any, test: list[Any], examples: list[Any]) -> dict[str, Any]:
    """Accuracy on `test` with exactly `examples` stored, in a namespace of their own."""
    from mindpilot.applications.sentiment import classify
    from mindpilot.mental_process import Experience

    namespace = f"k{len(examples)}"
    store.add_many(
        [Experience(namespace=namespace, task=TASK, situation=x.text, response=x.label)
         for x in examples]
    )  # fmt: skip
    shown = min(len(examples), SHOWN)
    correct = sum(
        classify(engine, x.text, task=TASK, namespace=namespace, examples=shown).label == x.label
        for x in test
    )
    accuracy = correct / len(test)
    # normal approximation of the binomial: how far apart two points must be to mean anything
    stderr = math.sqrt(accuracy * (1 - accuracy) / len(test))
    return {"shown": shown, "correct": correct, "accuracy": accuracy, "stderr": stderr}


def report(results: dict[str, Any]) -> str:
    lines = [
        f"Machine: {results['machine']}. Model: {results['model']}. Data: {results['data']}. "
        f"Baseline: {results['baseline']}.",
        "",
        "| labelled examples stored | shown per prompt | accuracy | ± 1 s.e. |",
        "|---|---|---|---|",
    ]
    for row in results["curve"]:
        lines.append(
            f"| {row['stored']} | {row['shown']} | {row['accuracy']:.3f} "
            f"({row['correct']}/{results['items']}) | {row['stderr']:.3f} |"
        )
    lines += [
        f"| majority class ('{results['majority_label']}', baseline) | - "
        f"| {results['majority_accuracy']:.3f} | - |",
        f"| chance | - | {results['chance_accuracy']:.3f} | - |",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    simple_main(sys.modules[__name__])
