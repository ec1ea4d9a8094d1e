"""Batched scoring of candidate answers after one shared chat prompt (in-process backend).

Extractive answers score many short candidates (spans of the taken records) as the assistant's
answer to the same prompt. Scoring each with its own pass repeats the prompt; here the prompt
runs once, its next-token distribution prunes the candidates (a top-k over their first
tokens), and the rest run in one batched pass on the prompt's KV cache expanded over the batch:

    prompt (1, P) -> logits (V,) + cache (1, heads, P, dim)
    candidates, right-padded (B, L) on the cache repeated to (B, heads, P, dim) -> logits (B, L, V)

Right padding needs no attention mask: a causal model's real tokens never see the padding,
which only follows them. Each candidate gets the log-probability of every token and of the
answer ending after it, so one scored text also scores each of its prefixes (the spans that
start at the same word): `span = sum(token_logprobs[:n]) + end_logprobs[n - 1]`.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import torch

from mindpilot.errors import ContextWindowError
from mindpilot.types import Message

if TYPE_CHECKING:
    from mindpilot.autopilot.transformers_backend import TransformersBackend

# An answer ends (or its clause does) when the model's next token is one of these, or its end
# of turn: a span that reads as a whole answer scores well, a cut-off one does not.
END_TEXTS = (".", ",", ";", "!", "?", "\n")
# Cached prompt positions repeated over one batch, at most (a 135M model keeps ~46 KB per
# position: 8192 positions ~ 380 MB); more candidates run in several batches.
BATCH_POSITIONS = 8192


@dataclass(frozen=True)
class CandidateScores:
    """How likely the model finds one candidate text as the whole answer, token by token."""

    text: str
    token_ends: tuple[int, ...]  # character offset in `text` where each token ends
    token_logprobs: tuple[float, ...]  # log P(token i | prompt, tokens before i)
    end_logprobs: tuple[float, ...]  # log P(the answer ends right after token i)

    def prefix_logprob(self, n: int) -> float:
        """Log-likelihood of the first `n` tokens as a finished answer: their tokens and the
        end that follows them."""
        return sum(self.token_logprobs[:n]) + self.end_logprobs[n - 1]


@dataclass(frozen=True)
class ScoredCandidates:
    """The result of one call: a score for each candidate kept, None for the pruned ones."""

    scores: tuple[CandidateScores | None, ...]
    prompt_tokens: int
    prompt_s: float  # the shared prompt's pass
    batch_s: float  # the batched pass(es) over the kept candidates


@runtime_checkable
class CandidateScorer(Protocol):
    """A backend that can score candidate answers (has the model's logits)."""

    context_window: int

    def count_tokens(self, messages: Sequence[Message]) -> int: ...

    def score_candidates(
        self,
        messages: Sequence[Message],
        candidates: Sequence[str],
        *,
        adapter: str | None = None,
        keep: int | None = None,
        always: Sequence[int] = (),
    ) -> ScoredCandidates: ...


def score_candidates(
    backend: TransformersBackend,
    messages: Sequence[Message],
    candidates: Sequence[str],
    *,
    adapter: str | None = None,
    keep: int | None = None,
    always: Sequence[int] = (),
) -> ScoredCandidates:
    """Score each candidate as the assistant's answer to `messages`; see the module docstring.
    `keep`: score only this many, those whose first token the model finds likeliest after the
    prompt (None: all), and the candidates at the indices `always` besides. Candidates longer
    than the context window leaves are cut to fit."""
    ids = backend.prompt_ids(messages)
    room = backend.context_window - len(ids)
    if room < 2:  # one token of answer and the end after it
        raise ContextWindowError(
            f"the prompt takes {len(ids)} tokens but {backend.model_name} holds "
            f"{backend.context_window} in all, leaving no room for an answer",
            hint="lower the task's knowledge token budget or shorten the question",
        )
    tokenized = [_tokens(backend, text, room - 1) for text in candidates]
    with backend._lock, backend._applied(adapter), torch.inference_mode():
        torch.set_num_threads(backend.threads)
        started = time.perf_counter()
        logits, past = backend._forward(ids, None)
        prompt_s = time.perf_counter() - started
        first = torch.log_softmax(logits.float(), dim=-1)  # (V,)
        chosen = _pruned(first, tokenized, keep, always)
        ends = _end_ids(backend)
        scores: list[CandidateScores | None] = [None] * len(candidates)
        step = max(1, BATCH_POSITIONS // len(ids))
        for start in range(0, len(chosen), step):
            batch = chosen[start : start + step]
            rows = _batch(backend, first, past, [tokenized[i] for i in batch], ends)
            for i, (logprobs, end_logprobs) in zip(batch, rows, strict=True):
                token_ends = tokenized[i][1]
                scores[i] = CandidateScores(
                    candidates[i], tuple(token_ends), tuple(logprobs), tuple(end_logprobs)
                )
        batch_s = time.perf_counter() - started - prompt_s
    return ScoredCandidates(tuple(scores), len(ids), prompt_s, batch_s)


Tokenized = tuple[list[int], list[int]]  # token ids, character end of each token


def _tokens(backend: TransformersBackend, text: str, limit: int) -> Tokenized:
    encoded = backend.tokenizer(  # record text: its special-token strings stay plain text
        text, add_special_tokens=False, return_offsets_mapping=True, split_special_tokens=True
    )
    ids: list[int] = encoded["input_ids"][:limit]
    ends = [int(end) for _, end in encoded["offset_mapping"][:limit]]
    return ids, ends


def _pruned(
    first: torch.Tensor, tokenized: list[Tokenized], keep: int | None, always: Sequence[int]
) -> list[int]:
    """Indices of the candidates to score: those with tokens, likeliest first tokens first,
    and those in `always`."""
    usable = [i for i, (ids, _) in enumerate(tokenized) if ids]
    if keep is None or len(usable) <= keep:
        return usable
    ranked = sorted(usable, key=lambda i: float(first[tokenized[i][0][0]]), reverse=True)
    return sorted({*ranked[:keep], *(i for i in always if tokenized[i][0])})


def _end_ids(backend: TransformersBackend) -> list[int]:
    """Token ids that end an answer: the end of turn and single-token end punctuation."""
    ids = set(backend._eos)
    for text in END_TEXTS:
        encoded = backend.tokenizer(text, add_special_tokens=False)["input_ids"]
        if len(encoded) == 1:
            ids.add(encoded[0])
    return sorted(ids)


def _batch(
    backend: TransformersBackend,
    first: torch.Tensor,
    past: object,
    rows: list[Tokenized],
    ends: list[int],
) -> list[tuple[list[float], list[float]]]:
    """(token log-probabilities, end log-probabilities) of each row, in one forward pass."""
    width = max(len(ids) for ids, _ in rows)
    pad = ends[0]  # any id: padding only follows a row's real tokens, which never see it
    padded = [ids + [pad] * (width - len(ids)) for ids, _ in rows]
    batch = torch.tensor(padded, device=backend.device)  # (B, L)
    cache = copy.deepcopy(past)
    cache.batch_repeat_interleave(len(rows))  # type: ignore[attr-defined]
    out = backend.model(input_ids=batch, past_key_values=cache, use_cache=True)
    # position i predicts token i + 1; the prompt's last logits predict every row's token 0
    steps = torch.log_softmax(out.logits.float(), dim=-1)  # (B, L, V)
    first_rows = first.to(steps.device).expand(len(rows), 1, -1)  # (B, 1, V)
    before = torch.cat([first_rows, steps[:, :-1, :]], dim=1)  # (B, L, V)
    picked = before.gather(2, batch[:, :, None])[:, :, 0]  # (B, L)
    end = torch.logsumexp(steps[:, :, ends], dim=-1)  # (B, L): P(end) after token i
    result = []
    for b, (ids, _) in enumerate(rows):
        n = len(ids)
        result.append((picked[b, :n].tolist(), end[b, :n].tolist()))
    return result
