"""Pieces of the decoding loop: token choice, incremental detokenisation, stop strings."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from mindpilot.types import GenerationConfig


def choose_token(
    logits: torch.Tensor,
    config: GenerationConfig,
    generator: torch.Generator | None,
    answer: Sequence[int] = (),
) -> int:
    """Next token id from the last position's logits (vocab,): greedy, or temperature + top-k
    + top-p; the penalties on the `answer`'s tokens so far apply first."""
    if config.penalised and answer:
        logits = penalise(logits, answer, config)
    if config.greedy:
        return int(torch.argmax(logits).item())
    if config.top_k and config.top_k < logits.shape[-1]:
        kth = torch.topk(logits, config.top_k).values[-1]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    probs = torch.softmax(logits.float() / config.temperature, dim=-1)
    if config.top_p < 1.0:
        sorted_probs, order = torch.sort(probs, descending=True)
        # keep the smallest prefix whose mass reaches top_p (the first token always stays)
        drop = torch.cumsum(sorted_probs, dim=-1) - sorted_probs >= config.top_p
        sorted_probs[drop] = 0.0
        probs = torch.zeros_like(probs).scatter(0, order, sorted_probs)
    return int(torch.multinomial(probs, 1, generator=generator).item())


def penalise(logits: torch.Tensor, answer: Sequence[int], config: GenerationConfig) -> torch.Tensor:
    """The logits with the repetition, presence and frequency penalties of the tokens seen."""
    logits = logits.float().clone()
    seen, counts = torch.unique(torch.tensor(answer), return_counts=True)
    chosen = logits[seen]
    if config.repetition_penalty != 1:
        factor = config.repetition_penalty
        chosen = torch.where(chosen > 0, chosen / factor, chosen * factor)
    chosen = chosen - config.presence_penalty - config.frequency_penalty * counts.float()
    logits[seen] = chosen
    return logits


class IncrementalDecoder:
    """Turns token ids into text pieces as they arrive.

    Decoding one token alone breaks multi-byte characters and leading spaces, so we decode a
    short window (the last emitted token onwards) and emit only what is new and complete
    (no trailing U+FFFD). The same approach as Hugging Face's text-generation-inference.
    """

    def __init__(self, tokenizer: Any) -> None:
        self._tokenizer = tokenizer
        self._ids: list[int] = []
        self._prefix = 0  # start of the window
        self._read = 0  # tokens already emitted

    def push(self, token_id: int) -> str:
        self._ids.append(token_id)
        before = self._decode(self._ids[self._prefix : self._read])
        after = self._decode(self._ids[self._prefix :])
        if len(after) > len(before) and not after.endswith("\ufffd"):
            self._prefix, self._read = self._read, len(self._ids)
            return after[len(before) :]
        return ""

    def _decode(self, ids: list[int]) -> str:
        text: str = self._tokenizer.decode(
            ids, skip_special_tokens=True, clean_up_tokenization_spaces=False
        )
        return text


class StopMatcher:
    """Cuts the output at the first stop string, never emitting any part of it.

    Text that could be the start of a stop string is held back until it is decided.
    """

    def __init__(self, stops: tuple[str, ...]) -> None:
        self._stops = stops
        self._pending = ""

    def push(self, text: str) -> tuple[str, bool]:
        """(text safe to emit, whether a stop string was hit)."""
        buffer = self._pending + text
        hits = [i for i in (buffer.find(s) for s in self._stops) if i >= 0]
        if hits:
            self._pending = ""
            return buffer[: min(hits)], True
        hold = self._held_suffix(buffer)
        self._pending = buffer[len(buffer) - hold :] if hold else ""
        return buffer[: len(buffer) - hold], False

    def flush(self) -> str:
        pending, self._pending = self._pending, ""
        return pending

    def _held_suffix(self, buffer: str) -> int:
        longest = 0
        for stop in self._stops:
            for size in range(min(len(stop) - 1, len(buffer)), longest, -1):
                if buffer.endswith(stop[:size]):
                    longest = size
                    break
        return longest
