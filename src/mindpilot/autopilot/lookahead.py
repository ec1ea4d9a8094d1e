"""Prompt-lookup decoding: several tokens per forward pass, the same tokens as one at a time.

On a CPU a decode step is bound by reading the weights (~540 MB in float32 for the default
model), so a pass over a few tokens costs little more than over one. When the last tokens
written already appeared earlier in the prompt or the answer (a record being quoted, a name
repeated, a list continuing), the tokens that followed them there are a likely guess for
what comes next (Saxena 2023, "prompt lookup decoding"). One pass feeds the chosen token and
that guess; the decoding loop then chooses each next token from the pass's logits exactly as
it would have, and the logits of the position after a guessed token are valid as long as the
chosen token equals the guess. At the first difference the rest of the guess is cut from the
KV cache. Greedy or sampled (the sampler draws once per token either way), with penalties,
grammars, stop strings, log-probabilities and retrieval during decoding: the loop is
unchanged, only where its logits come from.

Measured on the default model: see docs/benchmarks/model_speed.md (`lookahead` rows).
"""

from __future__ import annotations

from collections import deque
from typing import Any

import torch

from mindpilot.autopilot.contrast import Logits, SinglePass

# Guessed tokens per pass. On 2 busy cores with 1 thread a pass over 1 + 3 tokens cost ~1.2x
# a pass over 1 (the lm_head's 28M weights then run as a small matrix product, not a vector
# one); longer guesses cost more than their expected hits bring.
GUESS = 3
# Longest and shortest n-gram of the text's end looked up earlier in it: a longer match is a
# better guess; a single repeated token guesses wrongly too often to pay for its pass.
MAX_NGRAM, MIN_NGRAM = 3, 2


def propose(history: list[int], guess: int = GUESS) -> list[int]:
    """Up to `guess` tokens that followed the latest earlier occurrence of the history's last
    n-gram (the longest of MAX_NGRAM..MIN_NGRAM tokens that occurs), or none."""
    end = len(history)
    for n in range(MAX_NGRAM, MIN_NGRAM - 1, -1):
        if end <= n:
            continue
        tail = history[end - n :]
        # latest match first: the nearer text is likelier to continue the same way
        for start in range(end - n - 1, -1, -1):
            if history[start : start + n] == tail:
                follow = history[start + n : start + n + guess]
                if follow:
                    return follow
    return []


class LookaheadPass(SinglePass):
    """A SinglePass that feeds each token with a guess of the next ones (see the module).
    `limit`: the model's context window (the cache never holds more positions)."""

    def __init__(self, model: Any, *, limit: int, guess: int = GUESS) -> None:
        super().__init__(model)
        self.limit, self.guess = limit, guess
        self.history: list[int] = []  # prompt + answer, the text guesses are looked up in
        self.pending: deque[tuple[int, Logits]] = deque()  # (guessed token, logits after it)
        self.passes = self.guessed = self.confirmed = 0  # counted for the benchmark

    def read(self, prompt: list[int], answer: list[int]) -> Logits:
        self.history = prompt + answer
        self.pending.clear()
        return super().read(prompt, answer)

    def step(self, token: int) -> Logits:
        self.history.append(token)
        if self.pending and self.pending[0][0] == token:  # the guess was right: no pass
            self.confirmed += 1
            return self.pending.popleft()[1]
        if self.pending:  # wrong: forget the cached positions of the rest of the guess
            self.past.crop(-len(self.pending))
            self.pending.clear()
        room = self.limit - len(self.history)
        guess = propose(self.history, min(self.guess, room)) if room > 0 else []
        logits = self._forward_all([token, *guess])  # (1 + guess, vocab)
        self.passes += 1
        self.guessed += len(guess)
        self.pending.extend((g, Logits(row, row)) for g, row in zip(guess, logits[1:], strict=True))
        return Logits(logits[0], logits[0])

    def _forward_all(self, ids: list[int]) -> torch.Tensor:
        out = self.model(
            input_ids=torch.tensor([ids], device=self.device),
            past_key_values=self.past,
            use_cache=True,
        )
        self.past = out.past_key_values
        return out.logits[0].float().cpu()
