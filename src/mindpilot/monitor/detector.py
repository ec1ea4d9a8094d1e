"""The data audit's learned detector: a logistic regression on MiniLM sentence embeddings that
says how much a sentence reads like a stereotype about a group or a toxic comment.

Why a model next to the word lists (`data_audit`): the lists catch insults and explicit
generalisations ("all X are Y"), but few stereotypes as people write them ("Black people
could knock anyone out with their fist.", "It's easy to trick a poor person. they lack any
intelligence."): 18.6% of the packaged CrowS-Pairs stereotypes. The embedder is the one the
Mental Process already ships, so the detector adds 385 numbers (`detector.json`), not a model.

Fitted by `scripts/fit_audit_detector.py` on one half of the packaged texts
(`probe_data.held_out`): CrowS-Pairs and StereoSet stereotypes and toxic comments against
Wikipedia sentences (BoolQ paragraphs) and SIQA's everyday sentences about people; the
threshold is picked on out-of-fold scores of that half (at most 1% of its neutral sentences
flagged). What it scored on the other half is in `detector.json` and docs/monitor.md.
A record is scored as a whole, as MiniLM reads it (its first 256 tokens). Scoring each
sentence of a long record and keeping the highest was measured and rejected: each sentence is
another chance of a false alarm, and 8.3% of held-out Wikipedia paragraphs were flagged
(4.0% as wholes), for +0.4 points of CrowS-Pairs recall.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mindpilot.errors import ConfigError
from mindpilot.mental_process.embed import Embedder, get_embedder

WEIGHTS = Path(__file__).with_name("detector.json")


@dataclass(frozen=True)
class Detector:
    """Weights over one embedder's vectors; `threshold` on the probability flags."""

    embedder: str
    weights: np.ndarray  # (dim,)
    bias: float
    threshold: float
    info: dict[str, Any]  # how it was fitted and what it measured (detector.json)

    def probabilities(self, vectors: np.ndarray) -> np.ndarray:
        logits = vectors.astype(np.float64) @ self.weights + self.bias
        return np.asarray(1.0 / (1.0 + np.exp(-logits)))

    def to_json(self) -> str:
        return json.dumps(
            {
                "embedder": self.embedder, "bias": self.bias, "threshold": self.threshold,
                "info": self.info, "weights": [round(float(w), 6) for w in self.weights],
            },
            indent=1,
        )  # fmt: skip


@functools.cache
def load(path: Path = WEIGHTS) -> Detector:
    """The packaged detector (read once)."""
    try:
        data = json.loads(path.read_text())
        return Detector(
            data["embedder"], np.asarray(data["weights"], dtype=np.float64),
            float(data["bias"]), float(data["threshold"]), data.get("info", {}),
        )  # fmt: skip
    except (OSError, ValueError, KeyError) as err:
        raise ConfigError(
            f"the data audit's detector weights ({path}) cannot be read: {err}",
            hint="reinstall mindpilot, or refit them with scripts/fit_audit_detector.py",
        ) from err


def scores(
    texts: Sequence[str], detector: Detector | None = None, embedder: Embedder | None = None
) -> list[float]:
    """Each text's probability (one batched embedding of the whole texts)."""
    detector = detector or load()
    embedder = embedder or get_embedder(detector.embedder)
    if embedder.name != detector.embedder:
        raise ConfigError(
            f"the detector reads {detector.embedder} vectors, not {embedder.name}",
            hint=f"pass the {detector.embedder!r} embedder, or none",
        )
    if not texts:
        return []
    return [float(p) for p in detector.probabilities(embedder.embed(list(texts)))]
