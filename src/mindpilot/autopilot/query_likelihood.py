"""How likely the frozen model finds one text after each of several others, batched.

Reranking asks, for each candidate passage, how likely the question is after it (query
likelihood, as in UPR, Sachan et al. 2022): log P(question | "Passage: ... Question:"). The
passages differ and the question is the same, so the rows are left-padded to end together:

    rows (B, L) = [pad ... pad | prefix_i | continuation], attention mask (B, L)
    -> logits of the last n + 1 positions only (B, n + 1, V), n = continuation tokens

Only those positions go through the output layer (a 49k-word vocabulary costs as much as
several layers per position), and positions are counted from each row's first real token.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch

from mindpilot.autopilot.prompt_tokens import encode_text
from mindpilot.errors import ContextWindowError

if TYPE_CHECKING:
    from mindpilot.autopilot.transformers_backend import TransformersBackend

# Rows per forward pass: bounds the activations (a 135M model: B x L x 576 floats per layer).
BATCH_ROWS = 16


@dataclass(frozen=True)
class PrefixScores:
    """log P(continuation | prefix_i) for each prefix, summed over the continuation's tokens."""

    logprobs: tuple[float, ...]
    continuation_tokens: int
    tokens_read: int  # prefix and continuation tokens of every row (the cost)
    seconds: float


def score_after_prefixes(
    backend: TransformersBackend,
    prefixes: Sequence[str],
    continuation: str,
    *,
    prefix_tokens: int,
) -> PrefixScores:
    """Each prefix is cut to its first `prefix_tokens` tokens (and to what the context window
    leaves); the continuation is scored after it. No adapter: the frozen base judges."""
    cont = encode_text(backend.tokenizer, continuation)
    room = backend.context_window - len(cont)
    if not cont or room < 1:
        raise ContextWindowError(
            f"the text to score takes {len(cont)} tokens; {backend.model_name} holds "
            f"{backend.context_window}",
            hint="shorten the question",
        )
    limit = min(prefix_tokens, room)
    rows = [encode_text(backend.tokenizer, p)[:limit] for p in prefixes]
    started = time.perf_counter()
    scores: list[float] = []
    with backend._lock, backend._applied(None), torch.inference_mode():
        torch.set_num_threads(backend.threads)
        for start in range(0, len(rows), BATCH_ROWS):
            scores += _batch(backend, rows[start : start + BATCH_ROWS], cont)
    read = sum(len(r) + len(cont) for r in rows)
    return PrefixScores(tuple(scores), len(cont), read, time.perf_counter() - started)


def _batch(backend: TransformersBackend, rows: list[list[int]], cont: list[int]) -> list[float]:
    n = len(cont)
    width = max(len(r) for r in rows) + n
    pad = backend._pad
    ids = torch.tensor([[pad] * (width - len(r) - n) + r + cont for r in rows])  # (B, L)
    mask = torch.tensor([[0] * (width - len(r) - n) + [1] * (len(r) + n) for r in rows])
    positions = (mask.cumsum(dim=1) - 1).clamp(min=0)  # (B, L): from each row's first token
    out = backend.model(
        input_ids=ids, attention_mask=mask, position_ids=positions, logits_to_keep=n + 1
    )
    # logits (B, n + 1, V): position j predicts the token after it; the last one predicts
    # past the end and is not used
    logprobs = torch.log_softmax(out.logits[:, :-1, :].float(), dim=-1)  # (B, n, V)
    target = torch.tensor(cont)[None, :, None].expand(len(rows), n, 1)  # (B, n, 1)
    return logprobs.gather(2, target)[:, :, 0].sum(dim=1).tolist()
