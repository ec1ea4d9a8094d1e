"""Keyword ranking of the PostgreSQL store: full-text search over the stored `words` tsvector
of `record_words`, a narrow copy of the records' filter columns (schema.py "0005_record_words":
~40 rows a page where a record's row, its vector inline, fills a fifth of one); `filters.py`'s
WHERE clause applies to it unchanged.

Score: `ts_rank(words, query, 1 | 32)`, i.e. the rank divided by 1 + log(length) and mapped to
[0, 1) as r / (1 + r), the same shape as the SQLite store's s / (1 + s) of BM25 (the values
differ between backends; only their order and range are the contract). The query is the OR of
its informative words (stopwords out, `search_terms.query_words`), stemmed by the `mindpilot`
text search configuration (English Snowball).

Bounded cost, as in the SQLite store: words found in more than COMMON_SHARE of the records are
left out when the query has rarer ones (their weight is small, and hybrid search still sees
them through the vector ranking); the share is read from the planner's statistics
(`pg_stats.most_common_elems`, kept by ANALYZE), so it costs no scan. When more than MAX_SCORED
records match, the newest MAX_SCORED are ranked (~2 us a row visited on 2 busy cores).
"""

from __future__ import annotations

import time
from typing import Any

import psycopg

from mindpilot.mental_process.search_terms import query_words

MAX_SCORED = 2_000
COMMON_SHARE = 0.10
SHARES_TTL_S = 300.0  # statistics change only with ANALYZE: a word's share is kept this long

# Each word's largest lexeme share among the most common elements (NULL: not among them).
SHARES = """
WITH st AS (
    SELECT most_common_elems::text::text[] AS elems, most_common_elem_freqs AS freqs
    FROM pg_stats
    WHERE schemaname = current_schema() AND tablename = 'record_words' AND attname = 'words'
)
SELECT w, (SELECT max(st.freqs[array_position(st.elems, lexeme)])
           FROM unnest(tsvector_to_array(to_tsvector('mindpilot', w))) AS lexeme)
FROM unnest(%s::text[]) AS w, st
"""


class WordShares:
    """The share of records holding each query word, remembered for SHARES_TTL_S."""

    def __init__(self) -> None:
        self._known: dict[str, tuple[float, float]] = {}  # word -> (share, when read)

    def common(self, conn: psycopg.Connection, words: list[str]) -> set[str]:
        """The words found in more than COMMON_SHARE of the records."""
        now = time.monotonic()
        unknown = [w for w in words if now - self._known.get(w, (0.0, -SHARES_TTL_S))[1]
                   >= SHARES_TTL_S]  # fmt: skip
        if unknown:
            if len(self._known) > 50_000:
                self._known.clear()
            found: dict[str, float | None] = dict(conn.execute(SHARES, (unknown,)).fetchall())
            for word in unknown:  # no statistics yet (never analyzed): nothing is common
                self._known[word] = (float(found.get(word) or 0.0), now)
        return {w for w in words if self._known[w][0] > COMMON_SHARE}


def keyword_ranking(
    conn: psycopg.Connection,
    query: str,
    where: str,
    params: list[Any],
    depth: int,
    shares: WordShares,
) -> list[tuple[int, float]]:
    """(seq, r / (1 + r)) best first; any informative word may match."""
    words = query_words(query)
    if len(words) > 1:
        common = shares.common(conn, words)
        words = [w for w in words if w not in common] or words
    if not words:
        return []
    # plainto_tsquery never fails on odd input; || ORs the words' queries
    tsquery = " || ".join(["plainto_tsquery('mindpilot', %s)"] * len(words))
    rows = conn.execute(
        f"WITH q AS (SELECT {tsquery} AS q)"
        " SELECT seq, score FROM (SELECT r.seq, ts_rank(r.words, q.q, 33) AS score"
        # `seq + 0`: the newest matches found through the words' index, then sorted; ordered by
        # `seq` itself, the planner often walked the primary key backwards testing every row
        # (100k records: 46 ms where this takes 6)
        f"  FROM record_words r, q WHERE {where} AND r.words @@ q.q ORDER BY r.seq + 0 DESC"
        " LIMIT %s) m"
        " ORDER BY score DESC, seq DESC LIMIT %s",
        (*words, *params, MAX_SCORED, depth),
    ).fetchall()
    return [(seq, float(score)) for seq, score in rows]
