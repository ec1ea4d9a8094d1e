"""Search of the SQLite store: the vector and keyword rankings of one snapshot, fused."""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from functools import partial

import numpy as np

from mindpilot.mental_process.fusion import fuse
from mindpilot.mental_process.records import KINDS, Hit, Kind
from mindpilot.mental_process.row_codecs import record_from_body
from mindpilot.mental_process.search_terms import check_search, given_query_vector
from mindpilot.mental_process.sqlite.filters import filters, row_filter
from mindpilot.mental_process.sqlite.keyword_search import (
    keyword_ranking,
    keyword_ranking_admitted,
)
from mindpilot.mental_process.sqlite.vectors import VectorCache
from mindpilot.mental_process.store import SearchMode


class SearchMethods(VectorCache):
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
        qvec = self._query_vector(query, query_vector)
        depth = max(3 * k, 30)  # candidates per ranking before fusion
        # kinds/domains/tasks filter in memory (index row attributes); tags and dates in SQL
        in_sql = bool(tags) or since is not None or until is not None
        scoped = set(kinds) != set(KINDS) or domains is not None or tasks is not None
        with self._read() as conn:
            index = self._index(namespace)
            keep = row_filter(self._names, kinds, domains, tasks) if scoped else None
            by_vector: builtins.list[tuple[int, float]] = []
            by_keyword: builtins.list[tuple[int, float]] = []
            if mode != "keyword":
                allowed = None
                if in_sql:
                    rows = conn.execute(f"SELECT seq FROM records r WHERE {where}", params)
                    allowed = np.fromiter((r[0] for r in rows), dtype=np.int64)
                by_vector = index.search(qvec, depth, allowed, where=None if in_sql else keep)
            if mode != "vector" and in_sql:  # tags or dates: SQL tests them
                by_keyword = keyword_ranking(conn, query, where, params, depth, selective=True)
            elif mode != "vector":  # namespace, current, kinds/domains/tasks: the index knows
                admit = partial(index.admits, where=keep)
                by_keyword = keyword_ranking_admitted(
                    conn, query, depth, admit, self._counts, admitted=index.passing(keep)
                )
            ranked = fuse(by_vector, by_keyword, mode, k)
            if not ranked:
                return []
            seqs = [seq for seq, _ in ranked]
            marks = ",".join("?" * len(seqs))
            bodies = dict(
                conn.execute(f"SELECT seq, body FROM records WHERE seq IN ({marks})", seqs)
            )
            similarity = index.similarity(qvec, seqs)
        vec_rank = {seq: i for i, (seq, _) in enumerate(by_vector, start=1)}
        kw = {seq: (i, s) for i, (seq, s) in enumerate(by_keyword, start=1)}
        return [
            Hit(
                record=record_from_body(bodies[seq]),
                score=score if mode != "vector" else float(similarity[i]),
                similarity=float(similarity[i]),
                keyword_score=kw[seq][1] if seq in kw else None,
                keyword_rank=kw[seq][0] if seq in kw else None,
                vector_rank=vec_rank.get(seq),
            )
            for i, (seq, score) in enumerate(ranked)
        ]

    def _query_vector(self, query: str, given: np.ndarray | None) -> np.ndarray:
        if given is None:
            return self._embed([query])[0]
        return given_query_vector(given, self.embedder.dim)
