"""Pure helpers of the SQLite store: filters as SQL, keyword ranking, rank fusion, rows."""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Sequence
from typing import Any

import numpy as np

from mindpilot.errors import ValidationError
from mindpilot.mental_process.records import (
    KINDS,
    Change,
    Record,
    TaskProfile,
    check_namespace,
    record_from_dict,
)

RRF_K = 60  # reciprocal rank fusion constant (Cormack et al. 2009)
_WORD = re.compile(r"\w+")
# Left out of keyword queries (words match with OR, so "how do I" would rank any record
# containing "do" first); a query made only of them keeps them.
STOPWORDS = frozenset(
    """
    a an and are as at be but by can do does for from how i if in into is it its me my no not of
    on or our so than that the their them then there these they this to was we were what when
    where which who why will with you your
    """.split()  # noqa: SIM905
)


def to_json(item: Record | TaskProfile | None) -> str | None:
    return None if item is None else json.dumps(item.to_dict(), ensure_ascii=False)


def from_json(text: str | None) -> Any:
    return None if text is None else record_from_dict(json.loads(text))


CHANGE_COLUMNS = "seq, namespace, record_id, kind, op, actor, at, batch, before, after, undone"


def change_from_row(row: Sequence[Any]) -> Change:
    seq, namespace, record_id, kind, op, actor, at, batch, before, after, undone = row
    return Change(
        seq=seq, namespace=namespace, record_id=record_id, kind=kind, op=op, actor=actor, at=at,
        batch=batch, before=from_json(before), after=from_json(after), undone=bool(undone),
    )  # fmt: skip


def check_unique(names: Sequence[str], what: str) -> None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise ValidationError(f"{what} {name!r} appears twice", hint="keep one of them")
        seen.add(name)


def unit_rows(vectors: object, n: int, dim: int) -> np.ndarray:
    """Caller-given vectors checked and L2-normalised: (n, dim) float32, C-contiguous."""
    matrix = np.asarray(vectors, dtype=np.float32)
    if matrix.shape != (n, dim):
        raise ValidationError(
            f"vectors have shape {matrix.shape}, expected ({n}, {dim}): one row per record"
        )
    if not np.isfinite(matrix).all():
        raise ValidationError("vectors contain NaN or infinity")
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)  # (n, 1)
    if (norms == 0).any():
        raise ValidationError(
            f"vector row {int(np.flatnonzero(norms[:, 0] == 0)[0])} is all zeros",
            hint="every record needs a real embedding",
        )
    return np.ascontiguousarray(matrix / norms, dtype=np.float32)


def filters(
    namespace: str,
    *,
    kinds: Sequence[str] | None,
    domains: Sequence[str] | None,
    tasks: Sequence[str] | None,
    tags: Sequence[str],
    since: float | None,
    until: float | None,
    strict: bool,
    current: bool,
) -> tuple[str, list[Any]]:
    """SQL WHERE over alias `r`, and its parameters.

    strict: `domains`/`tasks` keep only records that have one of them (list); otherwise they
    only restrict the kinds that carry the field (search)."""
    check_namespace(namespace)
    clauses: list[str] = ["r.namespace = ?"]
    params: list[Any] = [namespace]
    if current:
        clauses.append("r.superseded_by IS NULL")
    if kinds is not None:
        unknown = sorted(set(kinds) - set(KINDS))
        if unknown or isinstance(kinds, str):
            raise ValidationError(f"unknown kind(s) {unknown or kinds}", hint=f"use {KINDS}")
        clauses.append(f"r.kind IN ({','.join('?' * len(kinds))})")
        params += kinds
    for column, values, kind_test in (
        ("domain", domains, "r.kind != 'knowledge'"),
        ("task", tasks, "r.kind = 'knowledge'"),
    ):
        if values is not None:
            marks = ",".join("?" * len(values))
            test = f"r.{column} IN ({marks})" if values else "0"
            clauses.append(test if strict else f"({kind_test} OR {test})")
            params += values
    if tags:
        tags = list(dict.fromkeys(tags))
        clauses.append(
            "(SELECT count(DISTINCT value) FROM json_each(r.tags)"
            f" WHERE value IN ({','.join('?' * len(tags))})) = ?"
        )
        params += [*tags, len(tags)]
    if since is not None:
        clauses.append("r.created_at >= ?")
        params.append(since)
    if until is not None:
        clauses.append("r.created_at < ?")
        params.append(until)
    return " AND ".join(clauses), params


def keyword_ranking(
    conn: sqlite3.Connection, query: str, where: str, params: Sequence[Any], depth: int
) -> list[tuple[int, float]]:
    """FTS5 BM25 ranking: (seq, s / (1 + s)) best first, s = -bm25. Any word may match
    (stopwords aside)."""
    words = dict.fromkeys(_WORD.findall(query.lower()))
    if not words:
        return []
    words = dict.fromkeys(w for w in words if w not in STOPWORDS) or words
    match = " OR ".join(f'"{w}"' for w in words)
    rows = conn.execute(
        "SELECT r.seq, bm25(records_fts) AS b FROM records_fts"
        f" JOIN records r ON r.seq = records_fts.rowid WHERE records_fts MATCH ? AND {where}"
        " ORDER BY b LIMIT ?",
        (match, *params, depth),
    ).fetchall()
    return [(seq, max(-b, 0.0) / (1.0 + max(-b, 0.0))) for seq, b in rows]


def fuse(
    by_vector: list[tuple[int, float]], by_keyword: list[tuple[int, float]], mode: str, k: int
) -> list[tuple[int, float]]:
    """The top k (seq, score): reciprocal rank fusion in hybrid mode, else the list's own."""
    if mode == "vector":
        return by_vector[:k]
    if mode == "keyword":
        return by_keyword[:k]
    fused: dict[int, float] = {}
    for ranking in (by_vector, by_keyword):
        for rank, (seq, _) in enumerate(ranking, start=1):
            fused[seq] = fused.get(seq, 0.0) + 1.0 / (RRF_K + rank)
    return sorted(fused.items(), key=lambda item: (-item[1], item[0]))[:k]
