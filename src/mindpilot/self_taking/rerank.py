"""Reranking by the Autopilot: the best search hits rescored by the frozen model.

The model reads each candidate's first `tokens` tokens as a passage and scores the question
after it (query likelihood: a passage that answers the question makes its words likely). The
model's order and the search's are fused by weighted reciprocal rank:

    fused = (1 - w) / (K + search rank) + w / (K + model rank)     (ranks from 1)

Rank fusion needs no calibration between BM25/cosine scores and log-likelihoods. Hits keep
their search `score`; `rerank_score` holds the model's log-likelihood (provenance has both).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Protocol

from mindpilot.mental_process.records import Hit

# A small constant: the two orders are each short (the rerank depth), so a move of a few
# places should count; the search's own fusion uses 60 over lists of hundreds.
FUSION_K = 5
PROMPT = "Passage: {text}\n\nA question this passage answers:"
PROMPT_TOKENS = 16  # the prompt's own tokens, besides the record's text
TOKENS_PER_WORD = 1.5  # English words in the model's tokenizer, a little over the usual 1.3


class PrefixScorer(Protocol):
    """What reranking needs from a backend (`Backend.score_after_prefixes`)."""

    def score_after_prefixes(
        self, prefixes: Sequence[str], continuation: str, *, prefix_tokens: int
    ) -> list[float]: ...


def rerank(
    scorer: PrefixScorer,
    question: str,
    hits: Sequence[Hit],
    *,
    depth: int,
    tokens: int,
    weight: float,
) -> list[Hit]:
    """The first `depth` hits reordered by the fused ranks, the rest after them unchanged.
    `tokens` bounds what the model reads of each candidate (the cost is about depth x
    tokens); an over-long candidate is cut there, never refused."""
    head, tail = list(hits[:depth]), list(hits[depth:])
    if len(head) < 2 or weight == 0:
        return list(hits)
    # Cut the record's words here so the prompt's last line stays; the backend's own cut (in
    # tokens, with room for that line) is then only a safeguard.
    prefixes = [PROMPT.format(text=_cut_words(h.record.search_text, tokens)) for h in head]
    scores = scorer.score_after_prefixes(
        prefixes, " " + question.strip(), prefix_tokens=tokens + PROMPT_TOKENS
    )
    model_rank = _ranks(scores)
    fused = [
        (1 - weight) / (FUSION_K + i + 1) + weight / (FUSION_K + model_rank[i])
        for i in range(len(head))
    ]
    order = sorted(range(len(head)), key=lambda i: fused[i], reverse=True)
    scored = [dataclasses.replace(head[i], rerank_score=scores[i]) for i in order]
    return scored + tail


def _ranks(scores: Sequence[float]) -> list[int]:
    """1-based rank of each score, best (highest) first."""
    order = sorted(range(len(scores)), key=lambda i: scores[i], reverse=True)
    ranks = [0] * len(scores)
    for rank, i in enumerate(order, start=1):
        ranks[i] = rank
    return ranks


def _cut_words(text: str, tokens: int) -> str:
    """About the first `tokens` tokens of the text, cut between words."""
    words = text.split()
    return " ".join(words[: max(1, int(tokens / TOKENS_PER_WORD))])
