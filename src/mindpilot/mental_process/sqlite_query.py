"""Pure helpers of the SQLite store: filters as SQL, keyword ranking, rank fusion, rows."""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Callable, Sequence
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


# ---- in-memory scope filter for the vector index ----------------------------------------------
# Each index row carries (kind code, domain code, task code); names are interned per store
# (-1 = none), so a kinds/domains/tasks filter is a few numpy comparisons over the rows
# instead of an SQL query that lists every permitted seq (~8 ms at 100k records).
KIND_CODES: dict[str, int] = {kind: code for code, kind in enumerate(KINDS)}
ATTRIBUTES = 3


class NameCodes:
    """Domain and task names as small ints, assigned on first sight (callers hold a lock)."""

    def __init__(self) -> None:
        self._codes: dict[str, int] = {}

    def code(self, name: str | None) -> int:
        if name is None:
            return -1
        return self._codes.setdefault(name, len(self._codes))

    def known(self, names: Sequence[str]) -> np.ndarray:
        """Codes of the names seen so far (a name never seen matches no row)."""
        return np.array([self._codes[n] for n in names if n in self._codes], dtype=np.int64)

    def attributes(self, kind: str, domain: str | None, task: str | None) -> tuple[int, ...]:
        return (KIND_CODES[kind], self.code(domain), self.code(task))


def row_filter(
    codes: NameCodes,
    kinds: Sequence[str],
    domains: Sequence[str] | None,
    tasks: Sequence[str] | None,
) -> Callable[[np.ndarray], np.ndarray]:
    """The search filter of `filters(strict=False)` for kinds/domains/tasks, over index rows'
    attributes (n, 3) -> (n,) bool. Call `filters` first: it validates the arguments."""
    kind_codes = np.array([KIND_CODES[k] for k in kinds], dtype=np.int64)
    domain_codes = None if domains is None else codes.known(domains)
    task_codes = None if tasks is None else codes.known(tasks)
    knowledge = KIND_CODES["knowledge"]

    def keep(attrs: np.ndarray) -> np.ndarray:
        kind = attrs[:, 0]
        mask = np.isin(kind, kind_codes)
        if domain_codes is not None:
            mask &= (kind != knowledge) | np.isin(attrs[:, 1], domain_codes)
        if task_codes is not None:
            mask &= (kind == knowledge) | np.isin(attrs[:, 2], task_codes)
        return mask

    return keep


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


# FTS5 computes BM25 for every match it ranks (~1.5 us each): a query word found in a quarter
# of 100k records cost ~50-190 ms. Three bounds keep keyword search near constant time:
COMMON_FRACTION = 0.10  # a word in more than this share of the records is a collection stopword
COMMON_MIN_DOCS = 1_000  # ...once it is in this many (a small store keeps every word)
MAX_SCORED = 2_000  # the most matches one query scores (~3-5 ms); beyond, the newest are
POOL_PER_HIT = 10  # best-scored matches kept per wanted result before the join and filters


def keyword_ranking(
    conn: sqlite3.Connection,
    query: str,
    where: str,
    params: Sequence[Any],
    depth: int,
    *,
    selective: bool = False,
) -> list[tuple[int, float]]:
    """FTS5 BM25 ranking: (seq, s / (1 + s)) best first, s = -bm25. Any word may match
    (stopwords aside).

    Bounded cost, at some cost in exactness on big stores: words in more than
    COMMON_FRACTION of the records are left out when the query has rarer ones (their BM25
    weight is small; in hybrid search the vector ranking still sees them); when the words
    that remain match more than MAX_SCORED records, the newest MAX_SCORED are ranked. The
    best POOL_PER_HIT * depth are then joined and filtered; should the filter (e.g. another
    namespace's records) leave fewer than `depth`, all scored matches are joined, then (if
    the scored set was cut short) 8 times as many are scored, until none is left out.
    `selective`: the filter is narrower than a namespace, so join all scored matches at once
    (cheaper than scoring them twice).
    """
    words = dict.fromkeys(_WORD.findall(query.lower()))
    if not words:
        return []
    kept = [w for w in words if w not in STOPWORDS] or list(words)
    match = " OR ".join(f'"{w}"' for w in _informative(conn, kept))
    scored = MAX_SCORED
    pool = scored if selective else max(POOL_PER_HIT * depth, 300)
    while True:
        rows = conn.execute(
            "SELECT r.seq, f.b, f.n FROM ("
            "  SELECT rowid, b, count(*) OVER () AS n FROM ("
            "    SELECT rowid, bm25(records_fts) AS b FROM records_fts"
            "    WHERE records_fts MATCH ? ORDER BY rowid DESC LIMIT ?"
            "  ) ORDER BY b LIMIT ?"
            f") f JOIN records r ON r.seq = f.rowid WHERE {where} ORDER BY f.b LIMIT ?",
            (match, scored, pool, *params, depth),
        ).fetchall()
        if len(rows) >= depth:
            break
        # Fewer than asked: complete unless the pool or the scored set was cut short.
        n = rows[0][2] if rows else _count(conn, match, scored)  # matches scored
        if n > pool:
            pool = n
        elif n >= scored:
            pool = scored = scored * 8
        else:
            break
    return [(seq, max(-b, 0.0) / (1.0 + max(-b, 0.0))) for seq, b, _ in rows]


def _informative(conn: sqlite3.Connection, words: list[str]) -> list[str]:
    """The words minus collection stopwords (see COMMON_FRACTION); all of them if none is rarer."""
    if len(words) < 2:
        return words
    (records,) = conn.execute("SELECT coalesce(max(seq), 0) FROM records").fetchone()  # >= count
    limit = max(COMMON_MIN_DOCS, int(COMMON_FRACTION * records))
    if records <= limit:
        return words
    rare = [w for w in words if _count(conn, f'"{w}"', limit + 1) <= limit]
    return rare or words


def _count(conn: sqlite3.Connection, match: str, limit: int) -> int:
    """How many records match, counting at most `limit` (O(limit) however common it is)."""
    (n,) = conn.execute(
        "SELECT count(*) FROM (SELECT 1 FROM records_fts WHERE records_fts MATCH ? LIMIT ?)",
        (match, limit),
    ).fetchone()
    return int(n)


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
