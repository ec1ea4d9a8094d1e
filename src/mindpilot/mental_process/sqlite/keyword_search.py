"""Keyword ranking of the SQLite store: FTS5 BM25 over `records_fts`, with stopwords left out
and bounds that keep one query's cost near constant on big stores."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from mindpilot.mental_process.search_terms import query_words

# FTS5 computes BM25 for every match it ranks (~1.5 us each): a query word found in a quarter
# of 100k records cost ~50-190 ms. Three bounds keep keyword search near constant time:
COMMON_FRACTION = 0.10  # a word in more than this share of the records is a collection stopword
COMMON_MIN_DOCS = 1_000  # ...once it is in this many (a small store keeps every word)
MAX_SCORED = 2_000  # the most matches one query scores (~3-5 ms); beyond, the newest are
POOL_PER_HIT = 10  # best-scored matches kept per wanted result before the join and filters


class WordCounts:
    """How many records each query word matches (capped), kept while no record is added:
    the common-word test cost one FTS5 count per word per query (~1.5 ms at 100k records).
    Deletions and edits leave it slightly stale, which a share-of-records threshold allows."""

    def __init__(self) -> None:
        self._records = -1  # max(seq) the counts were taken at
        self._counts: dict[tuple[str, int], int] = {}

    def count(self, conn: sqlite3.Connection, records: int, word: str, limit: int) -> int:
        if records != self._records:
            self._records, self._counts = records, {}
        key = (word, limit)
        if key not in self._counts:
            self._counts[key] = _count(conn, f'"{word}"', limit)
        return self._counts[key]


def keyword_ranking_admitted(
    conn: sqlite3.Connection,
    query: str,
    depth: int,
    admit: Callable[[np.ndarray], np.ndarray],
    counts: WordCounts,
    *,
    admitted: int | None = None,
) -> list[tuple[int, float]]:
    """`keyword_ranking` for a filter the caller tests in memory: `admit(seqs)` -> (n,) bool
    (the store passes its vector index, which holds exactly the namespace's current records
    and their kind/domain/task). The SQL join against `records` that it replaces read each
    match's row (~5 us each: the rows hold a vector and the JSON body) and was half the cost.
    Same bounds and scores: the best matches of the scored ones are tested first (4 * depth,
    or twice as many as the share of records the filter admits should need: `admitted` is how
    many it admits), then all of them, then 8 times as many scored, while the filter leaves
    fewer than `depth`. The first `depth` admitted are the same whichever pool found them."""
    (records,) = conn.execute("SELECT coalesce(max(seq), 0) FROM records").fetchone()  # >= count
    match = _match(conn, query, counts, records)
    if match is None:
        return []
    scored = MAX_SCORED
    pool = 4 * depth
    if admitted is not None:  # e.g. one domain of 10: 600 tested at once, not 120 then 2,000
        pool = min(scored, max(pool, 2 * depth * records // max(admitted, 1)))
    while True:
        # SQLite sorts the scored matches by BM25 and returns only the best `pool`: turning
        # 2,000 rows into Python objects and testing each against the filter cost ~2 ms.
        rows = conn.execute(
            "SELECT rowid, b FROM (SELECT rowid, bm25(records_fts) AS b FROM records_fts"
            "  WHERE records_fts MATCH ? ORDER BY rowid DESC LIMIT ?) ORDER BY b LIMIT ?",
            (match, scored, pool),
        ).fetchall()
        seqs = np.array([r[0] for r in rows], dtype=np.int64)  # (n,) best first
        bm25 = np.array([r[1] for r in rows], dtype=np.float64)  # (n,) lower = better
        ok = admit(seqs)
        if ok.sum() >= depth:
            break
        if len(rows) == pool < scored:  # the pool was cut short: take every scored match
            pool = scored
        elif len(rows) == scored:  # the scored set was cut short: score more
            pool = scored = scored * 8
        else:
            break
    seqs, bm25 = seqs[ok][:depth], bm25[ok][:depth]
    s = np.maximum(-bm25, 0.0)
    return list(zip(seqs.tolist(), (s / (1.0 + s)).tolist(), strict=True))


def _match(
    conn: sqlite3.Connection, query: str, counts: WordCounts | None, records: int | None = None
) -> str | None:
    """The FTS5 MATCH expression: the informative words of the query, OR-ed; None if none."""
    kept = query_words(query)
    if not kept:
        return None
    return " OR ".join(f'"{w}"' for w in _informative(conn, kept, counts, records))


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
    match = _match(conn, query, None)
    if match is None:
        return []
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


def _informative(
    conn: sqlite3.Connection,
    words: list[str],
    counts: WordCounts | None = None,
    records: int | None = None,
) -> list[str]:
    """The words minus collection stopwords (see COMMON_FRACTION); all of them if none is rarer.
    `records`: max(seq) of the records table, if the caller has read it."""
    if len(words) < 2:
        return words
    if records is None:
        (records,) = conn.execute("SELECT coalesce(max(seq), 0) FROM records").fetchone()
    limit = max(COMMON_MIN_DOCS, int(COMMON_FRACTION * records))
    if records <= limit:
        return words
    if counts is None:
        rare = [w for w in words if _count(conn, f'"{w}"', limit + 1) <= limit]
    else:
        rare = [w for w in words if counts.count(conn, records, w, limit + 1) <= limit]
    return rare or words


def _count(conn: sqlite3.Connection, match: str, limit: int) -> int:
    """How many records match, counting at most `limit` (O(limit) however common it is)."""
    (n,) = conn.execute(
        "SELECT count(*) FROM (SELECT 1 FROM records_fts WHERE records_fts MATCH ? LIMIT ?)",
        (match, limit),
    ).fetchone()
    return int(n)
