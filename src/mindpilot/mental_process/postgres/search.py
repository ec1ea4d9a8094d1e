"""Search of the PostgreSQL store: a vector ranking (pgvector, exact or HNSW) and a keyword
ranking (full-text search) of one snapshot, fused as in the SQLite store.

Keyword ranking: keywords.py (full-text search, its score mapped to [0, 1)).

Vector ranking: exact (a scan of the rows the filters allow) when the namespace has at most
`ann_threshold` current records, else the HNSW index (ann.py: built in the background when
first needed) with iterative scans (pgvector 0.8), falling back to the exact scan if the index
returns fewer rows than asked (a filter selective within a big table).
"""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from typing import Any

import numpy as np
import psycopg

from mindpilot.mental_process.fusion import fuse
from mindpilot.mental_process.postgres.filters import filters
from mindpilot.mental_process.postgres.keywords import keyword_ranking
from mindpilot.mental_process.postgres.records import RecordMethods
from mindpilot.mental_process.records import KINDS, Hit, Kind
from mindpilot.mental_process.row_codecs import record_from_body
from mindpilot.mental_process.search_terms import check_search, given_query_vector
from mindpilot.mental_process.store import SearchMode

EF_SEARCH = 100  # HNSW candidates per query (pgvector default 40): recall@10 ~0.99+


class SearchMethods(RecordMethods):
    """`Store.search`: reads only, inside one `_read` snapshot."""

    def search(
        self,
        namespace: str,
        query: str,
        *,
        kinds: Sequence[Kind] = KINDS,
        domains: Sequence[str] | None = None,
        tasks: Sequence[str] | None = None,
        tags: Sequence[str] = (),
        since: float | None = None,
        until: float | None = None,
        k: int = 10,
        mode: SearchMode = "hybrid",
        query_vector: np.ndarray | None = None,
    ) -> builtins.list[Hit]:
        check_search(query, mode, k)
        where, params = filters(
            namespace, kinds=kinds, domains=domains, tasks=tasks, tags=tags,
            since=since, until=until, strict=False, current=True,
        )  # fmt: skip
        if query_vector is None:
            qvec = self._embed([query])[0]
        else:
            qvec = given_query_vector(query_vector, self.embedder.dim)
        depth = max(3 * k, 30)  # candidates per ranking before fusion
        with self._read() as conn:
            by_vector = (
                [] if mode == "keyword" else self._by_vector(conn, qvec, where, params, depth)
            )
            by_keyword = (
                []
                if mode == "vector"
                else keyword_ranking(conn, query, where, params, depth, self._shares)
            )
            ranked = fuse(by_vector, by_keyword, mode, k)
            if not ranked:
                return []
            rows = conn.execute(
                "SELECT seq, body, -(embedding <#> %b) FROM records WHERE seq = ANY(%s::bigint[])",
                (qvec, [seq for seq, _ in ranked]),
            ).fetchall()
        found = {seq: (body, float(sim)) for seq, body, sim in rows}
        vec_rank = {seq: i for i, (seq, _) in enumerate(by_vector, start=1)}
        kw = {seq: (i, s) for i, (seq, s) in enumerate(by_keyword, start=1)}
        return [
            Hit(
                record=record_from_body(found[seq][0]),
                score=score if mode != "vector" else found[seq][1],
                similarity=found[seq][1],
                keyword_score=kw[seq][1] if seq in kw else None,
                keyword_rank=kw[seq][0] if seq in kw else None,
                vector_rank=vec_rank.get(seq),
            )
            for seq, score in ranked
        ]

    def _by_vector(
        self, conn: psycopg.Connection, qvec: np.ndarray, where: str, params: list[Any], depth: int
    ) -> builtins.list[tuple[int, float]]:
        """(seq, cosine) best first."""
        row = conn.execute(  # the namespace's current records, and the HNSW settings in the
            # same round trip (params[0]: the namespace; set_config(..., true): this transaction)
            "SELECT live, set_config('hnsw.ef_search', %s, true),"
            " set_config('hnsw.iterative_scan', 'relaxed_order', true)"
            " FROM namespace_state WHERE namespace = %s",
            (str(max(EF_SEARCH, depth)), params[0]),
        ).fetchone()
        allowed = int(row[0]) if row else 0
        if allowed > self._ann_threshold and not self._ann.ready(conn):
            self._ann.build_soon()  # exact meanwhile
        elif allowed > self._ann_threshold:
            rows = conn.execute(
                f"SELECT seq, sim FROM (SELECT r.seq, -(r.embedding <#> %b) AS sim FROM records r"
                f" WHERE {where} ORDER BY r.embedding <#> %b LIMIT %s) a ORDER BY sim DESC, seq",
                (qvec, *params, qvec, depth),
            ).fetchall()
            if len(rows) >= depth:
                return [(seq, float(sim)) for seq, sim in rows]
        # exact: sorting by `sim` (not the distance operator) keeps the planner off the index
        rows = conn.execute(
            f"SELECT r.seq, -(r.embedding <#> %b) AS sim FROM records r WHERE {where}"
            " ORDER BY sim DESC, r.seq LIMIT %s",
            (qvec, *params, depth),
        ).fetchall()
        return [(seq, float(sim)) for seq, sim in rows]
