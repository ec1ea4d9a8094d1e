"""Finding the knowledge a question needs: hybrid search, then (per task settings) time,
the model's reranking and a second hop.

1. Time-aware: a question naming a time ("last May", "in 1983", "two weeks ago", resolved
   against the request's date) is searched as asked and without those words, over a deeper
   pool, and records whose `when` overlaps that time come first (then those with no known
   time, then the others); the search's order holds within each group.
2. Reranking (`rerank.py`): the best `rerank_depth` candidates rescored by the frozen model.
3. Multi-hop: when names of the question (capitalised words, quoted phrases) appear in none
   of the first `top_k` hits, one more search with the question and the best hit's text; a
   hit of it that mentions a missing name is placed second. At most `multi_hop` searches,
   counted in `Found.hops` and marked "hop" in provenance.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from itertools import groupby

from mindpilot.mental_process.records import Hit, Kind, RetrievalSettings
from mindpilot.mental_process.store import Store
from mindpilot.mental_process.timeparse import Span, find_times, parse_when
from mindpilot.self_taking.rerank import PrefixScorer, rerank

# Candidates searched per kept hit (duplicates and irrelevant hits are dropped later).
OVERFETCH = 3
# A time-aware search looks this deep: records of the right time may rank low on words alone.
TIME_POOL = 100
# What of the best hit goes into a second search: enough for its names, not its whole text.
HOP_CHARS = 300
_NAME = re.compile(r"\"([^\"]{2,60})\"|\b([A-Z][\w'’-]*(?:\s+[A-Z][\w'’-]*)*)")
_NOT_NAMES = frozenset(
    """
    i what who whom whose when where which why how did does do is are was were can could
    would should will the a an and or but in on at of to for tell say said
    """.split()  # noqa: SIM905
)


@dataclass(frozen=True)
class Found:
    """Knowledge hits for one question, and how they were found."""

    hits: tuple[Hit, ...]
    times: tuple[Span, ...] = ()  # the question's times (empty: it named none)
    hops: int = 0  # second searches made
    hop_ids: tuple[str, ...] = ()  # records placed by a second search
    reranked: int = 0  # candidates the model rescored


def find_knowledge(
    store: Store,
    namespace: str,
    query: str,
    settings: RetrievalSettings,
    *,
    domains: Sequence[str] | None = None,
    scorer: PrefixScorer | None = None,
    today: date | None = None,
    kinds: Sequence[Kind] = ("knowledge",),
) -> Found:
    """Search, then time, reranking and hops as the settings ask (module docstring).
    `scorer`: the backend, needed when `settings.rerank_depth` > 0 (a ConfigError from a
    backend that cannot score says so)."""
    times = question_times(query, today) if settings.time_aware else []
    depth = max(settings.knowledge_top_k * OVERFETCH, settings.rerank_depth)
    if times:
        depth = max(depth, TIME_POOL)
    hits = store.search(namespace, query, kinds=kinds, domains=domains, k=max(depth, 1))
    if times:
        # The question's words as asked rank records that say the time ("in 1983"); the words
        # without it rank dated records (a turn dated May 2023 need not say "May"). Searching
        # only without them lost undated records that say it: QuAC questions naming a time
        # went from hit@10 1.00 to 0.86.
        words = without_times(query)
        if words != query:
            seen = {h.record.id for h in hits}
            more = store.search(namespace, words, kinds=kinds, domains=domains, k=depth)
            hits += [h for h in more if h.record.id not in seen]
        hits = by_time(hits, times)
    reranked = 0
    if settings.rerank_depth > 0 and scorer is not None and len(hits) > 1:
        hits = _reranked(scorer, query, hits, settings)
        reranked = min(settings.rerank_depth, len(hits))
    found = Found(tuple(hits), tuple(times), reranked=reranked)
    for _ in range(settings.multi_hop):
        step = _hop(store, namespace, query, found, settings.knowledge_top_k, domains, kinds)
        if step is None:
            break
        found, placed = step
        if not placed:  # the second search found no record with a missing name: stop there
            break
    return found


def _reranked(
    scorer: PrefixScorer, query: str, hits: list[Hit], settings: RetrievalSettings
) -> list[Hit]:
    """Reranked within each time group, so the model never moves a record of another time
    ahead of one of the question's time."""
    out: list[Hit] = []
    budget = settings.rerank_depth
    for group in _groups(hits):
        if budget <= 0:
            out += group
            continue
        out += rerank(
            scorer, query, group, depth=budget, tokens=settings.rerank_tokens,
            weight=settings.rerank_weight,
        )  # fmt: skip
        budget -= len(group)
    return out


def _groups(hits: list[Hit]) -> list[list[Hit]]:
    """Runs of hits with the same `time_match`, in order."""
    return [list(run) for _, run in groupby(hits, key=lambda hit: hit.time_match)]


# ---- time -----------------------------------------------------------------------------------
def question_times(query: str, today: date | None = None) -> list[Span]:
    """The times a question names, relative ones resolved against `today` (default: now)."""
    return [f.span for f in find_times(query, today or date.today())]


def without_times(query: str) -> str:
    """The question without its time words ("in May 2023"), or as it is when nothing else
    would remain."""
    found = find_times(query, date.today())
    rest, last = [], 0
    for f in found:
        rest.append(query[last : f.start])
        last = f.end
    rest.append(query[last:])
    text = re.sub(r"\b(in|on|during|since|from|last|of)\s*(?=[?.!,]|$)", "", "".join(rest))
    text = re.sub(r"\s+([?.!,])", r"\1", " ".join(text.split()))
    return text if re.search(r"\w", text) else query


def time_match(hit: Hit, times: Sequence[Span]) -> bool | None:
    """Whether the record's `when` overlaps any of the times; None if it has no date."""
    spans = parse_when(getattr(hit.record, "when", ""))
    if not spans:
        return None
    return any(s.overlaps(t) for s in spans for t in times)


def by_time(hits: Sequence[Hit], times: Sequence[Span]) -> list[Hit]:
    """The hits with `time_match` set: overlapping first, then undated, then the rest."""
    marked = [dataclasses.replace(h, time_match=time_match(h, times)) for h in hits]
    tier = {True: 0, None: 1, False: 2}
    return sorted(marked, key=lambda h: tier[h.time_match])  # stable: search order within


# ---- multi-hop ------------------------------------------------------------------------------
def question_names(query: str) -> list[str]:
    """Names in a question: quoted phrases and runs of capitalised words, less question
    words and the times it names."""
    text = without_times(query)
    names = []
    for m in _NAME.finditer(text):
        words = (m[1] or m[2]).split()
        while words and words[0].lower() in _NOT_NAMES:  # "Did Anna": the question's first word
            words.pop(0)
        name = " ".join(words).removesuffix("'s").removesuffix("’s")
        if name and name.lower() not in _NOT_NAMES and name not in names:
            names.append(name)
    return names


def missing_names(query: str, hits: Sequence[Hit]) -> list[str]:
    texts = " ".join(h.record.search_text.lower() for h in hits)
    return [n for n in question_names(query) if n.lower() not in texts]


def _hop(
    store: Store,
    namespace: str,
    query: str,
    found: Found,
    top_k: int,
    domains: Sequence[str] | None,
    kinds: Sequence[Kind],
) -> tuple[Found, bool] | None:
    """One second search and whether it placed a record, or None when none is needed (no
    name missing, nothing found)."""
    hits = list(found.hits)
    missing = missing_names(query, hits[: top_k + len(found.hop_ids)])
    if not missing or not hits:
        return None
    second = f"{query}\n{hits[0].record.search_text[:HOP_CHARS]}"
    seen = {h.record.id for h in hits[:top_k]}
    more = store.search(namespace, second, kinds=kinds, domains=domains, k=max(top_k, 5))
    lowered = [m.lower() for m in missing]
    new = [
        h for h in more
        if h.record.id not in seen and any(m in h.record.search_text.lower() for m in lowered)
    ]  # fmt: skip
    if not new:
        return dataclasses.replace(found, hops=found.hops + 1), False
    placed = new[0]
    rest = [h for h in hits if h.record.id != placed.record.id]
    moved = dataclasses.replace(
        found,
        hits=(rest[0], placed, *rest[1:]),
        hops=found.hops + 1,
        hop_ids=(*found.hop_ids, placed.record.id),
    )
    return moved, True
