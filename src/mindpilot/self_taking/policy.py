"""What to take from the Mental Process for one request: selective, relevant, within budget.

The policy follows the task profile: knowledge only from the task's expertise domains (all of
the namespace's domains when it names none), the task's current emotional state, and a few
similar experiences with the best outcomes first. Hits below the task's `min_similarity`
(cosine, see `Hit`) are dropped, so a request that needs nothing gets nothing.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from mindpilot.errors import NotFoundError
from mindpilot.mental_process.records import Emotion, Experience, Hit, Kind, TaskProfile
from mindpilot.mental_process.store import Store
from mindpilot.self_taking.rerank import PrefixScorer
from mindpilot.self_taking.retrieve import Found, find_knowledge
from mindpilot.types import Message

# Two hits whose word sets overlap this much say the same thing; keep the better one.
DUPLICATE_JACCARD = 0.8
# Search returns more than we keep, so dropping duplicates still leaves top_k candidates.
OVERFETCH = 3


@dataclass(frozen=True)
class TakenRecords:
    """What self-taking took for one request, and what it left out (counts)."""

    profile: TaskProfile
    query: str
    knowledge: tuple[Hit, ...] = ()
    experiences: tuple[Hit, ...] = ()
    emotion: Emotion | None = None  # the task's current emotion record, if any
    tone: str | None = None  # emotion state, or the profile's default_emotion
    dropped_irrelevant: int = 0
    dropped_duplicate: int = 0
    dropped_budget: int = 0
    retrieval_s: float = 0.0
    hops: int = 0  # second (multi-hop) searches made before generating
    hop_ids: tuple[str, ...] = ()  # knowledge placed by them
    reranked: int = 0  # knowledge candidates the model rescored


def task_profile(store: Store, namespace: str, task: str) -> TaskProfile:
    """The task's stored profile, or a default one: every domain, default settings.

    The proposal's example uses tasks that only exist as record labels; they still work."""
    try:
        return store.get_task(namespace, task)
    except NotFoundError:
        return TaskProfile(name=task, namespace=namespace)


def retrieval_query(messages: Sequence[Message]) -> str:
    """The text to search with: the last user turn, after the one before it (if any), so a
    follow-up like "and how long does that take?" keeps its subject."""
    turns = [m.content for m in messages if m.role == "user"]
    return "\n".join(turns[-2:])


def take_from_mental_process(
    store: Store,
    namespace: str,
    task: str,
    messages: Sequence[Message],
    count_tokens: Callable[[str], int],
    profile: TaskProfile | None = None,
    scorer: PrefixScorer | None = None,
) -> TakenRecords:
    """Search the Mental Process for what this request needs; see the module docstring.
    `profile` overrides the stored one (an application may bring its own settings);
    `scorer` (the backend) reranks when the task asks for it."""
    started = time.perf_counter()
    profile = profile or task_profile(store, namespace, task)
    settings = profile.retrieval
    query = retrieval_query(messages)
    found = find_knowledge_for(store, namespace, query, profile, scorer)
    knowledge = list(found.hits)
    similar = _search(
        store, namespace, query, "experience", settings.experience_top_k, tasks=[task]
    )
    experiences = _not_in_conversation(similar, messages)
    emotion = store.current_emotion(namespace, task)
    kept_k, counts_k = select(
        knowledge,
        settings.min_similarity,
        settings.knowledge_top_k,
        settings.knowledge_tokens,
        count_tokens,
    )
    kept_e, counts_e = select(
        _best_outcomes_first(experiences),
        settings.min_similarity,
        settings.experience_top_k,
        settings.experience_tokens,
        count_tokens,
    )
    return TakenRecords(
        profile=profile,
        query=query,
        knowledge=kept_k,
        experiences=kept_e,
        emotion=emotion,
        tone=emotion.state if emotion else profile.default_emotion,
        dropped_irrelevant=counts_k[0] + counts_e[0],
        dropped_duplicate=counts_k[1] + counts_e[1] + len(similar) - len(experiences),
        dropped_budget=counts_k[2] + counts_e[2],
        retrieval_s=time.perf_counter() - started,
        hops=found.hops,
        hop_ids=tuple(i for i in found.hop_ids if i in {h.record.id for h in kept_k}),
        reranked=found.reranked,
    )


def find_knowledge_for(
    store: Store,
    namespace: str,
    query: str,
    profile: TaskProfile,
    scorer: PrefixScorer | None = None,
) -> Found:
    """Knowledge candidates for `query` from the task's expertise domains (all when none),
    found as the task's retrieval settings say (`retrieve.py`)."""
    if profile.retrieval.knowledge_top_k == 0:  # the task takes no knowledge
        return Found(())
    domains = list(profile.expertise) or None
    return find_knowledge(
        store, namespace, query, profile.retrieval, domains=domains, scorer=scorer
    )


def search_knowledge(store: Store, namespace: str, query: str, profile: TaskProfile) -> list[Hit]:
    """Knowledge candidates for `query` (no reranking: used mid-answer, while the model is
    busy decoding)."""
    return list(find_knowledge_for(store, namespace, query, profile).hits)


def _search(
    store: Store,
    namespace: str,
    query: str,
    kind: Kind,
    top_k: int,
    *,
    domains: list[str] | None = None,
    tasks: list[str] | None = None,
) -> list[Hit]:
    if top_k == 0:  # the task takes none of this kind
        return []
    return store.search(
        namespace, query, kinds=(kind,), domains=domains, tasks=tasks, k=top_k * OVERFETCH
    )


def _not_in_conversation(hits: list[Hit], messages: Sequence[Message]) -> list[Hit]:
    """Experiences whose situation is an earlier user turn of this conversation (e.g. an
    exchange just given feedback in a chat) would repeat it as an example; leave them out.
    The turn being answered is not excluded: the same question asked before is the best one."""
    asked = {m.content.strip() for m in messages[:-1] if m.role == "user"}
    return [
        h
        for h in hits
        if not (isinstance(h.record, Experience) and h.record.situation.strip() in asked)
    ]


def _best_outcomes_first(hits: list[Hit]) -> list[Hit]:
    """Experiences with bad feedback are not examples to follow; better outcomes rank first
    among similar ones (feedback in [-1, 1] shifts the order by at most 0.1 of similarity)."""

    def outcome(hit: Hit) -> float:
        record = hit.record
        return record.score if isinstance(record, Experience) and record.score is not None else 0.0

    usable = [h for h in hits if outcome(h) >= 0]
    return sorted(usable, key=lambda h: h.similarity + 0.1 * outcome(h), reverse=True)


def select(
    hits: Sequence[Hit],
    min_similarity: float,
    top_k: int,
    budget_tokens: int,
    count_tokens: Callable[[str], int],
    already: Sequence[str] = (),
) -> tuple[tuple[Hit, ...], tuple[int, int, int]]:
    """Relevant, distinct hits that fit the budget; returns them and the (irrelevant,
    duplicate, over budget) counts. `already`: texts in the prompt that hits must not repeat."""
    kept: list[Hit] = []
    kept_words: list[set[str]] = [_words(text) for text in already]
    irrelevant = duplicate = over_budget = 0
    used = 0
    for hit in hits:
        if hit.similarity < min_similarity:
            irrelevant += 1
            continue
        words = _words(hit.record.search_text)
        if any(_jaccard(words, other) >= DUPLICATE_JACCARD for other in kept_words):
            duplicate += 1
            continue
        cost = count_tokens(hit.record.search_text)
        if len(kept) >= top_k or used + cost > budget_tokens:
            over_budget += 1
            continue
        kept.append(hit)
        kept_words.append(words)
        used += cost
    return tuple(kept), (irrelevant, duplicate, over_budget)


def _words(text: str) -> set[str]:
    return set(re.findall(r"\w+", text.lower()))


def _jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b) if a or b else 1.0
