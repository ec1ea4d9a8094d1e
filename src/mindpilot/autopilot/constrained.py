"""Constrained decoding: output that is valid JSON for a schema by construction.

At each step the grammar engine (llguidance: a lexer/parser split that computes the set of
allowed tokens in microseconds to a few milliseconds on CPU) masks every token that could not
continue a valid document; the sampler then chooses among the rest, and the chosen token
advances the parser. The end-of-turn token is allowed only once the document is complete, and
decoding stops when the grammar says it is finished.

`GenerationConfig.json_schema` holds the schema as a JSON string (a frozen config must be
hashable); `{"type": "object"}` is OpenAI's `json_object` mode.
"""

from __future__ import annotations

import json
from typing import Any

import torch

from mindpilot.errors import ValidationError

JSON_OBJECT = json.dumps({"type": "object"})
# Compact JSON: no free whitespace between tokens, so a small model cannot wander in blanks.
_COMPILE: Any = {"whitespace_flexible": False}


class Constraint:
    """One generation's grammar state over a backend's vocabulary."""

    def __init__(self, matcher: Any, vocab_size: int) -> None:
        import llguidance.torch

        self._matcher = matcher
        self._torch = llguidance.torch
        self._vocab = vocab_size
        self._mask = llguidance.torch.allocate_token_bitmask(1, vocab_size)

    def apply(self, logits: torch.Tensor) -> torch.Tensor:
        """`logits` (vocab,) with every token the grammar forbids at -inf (a copy)."""
        self._torch.fill_next_token_bitmask(self._matcher, self._mask, 0)
        masked = logits.float().clone().unsqueeze(0)
        known = masked[:, : self._vocab].contiguous()
        self._torch.apply_token_bitmask_inplace(known, self._mask)
        masked[:, : self._vocab] = known
        masked[:, self._vocab :] = float("-inf")  # the model's padding rows are no tokens
        return masked[0]

    def accept(self, token: int) -> None:
        self._matcher.consume_token(token)
        if self._matcher.is_error():
            raise RuntimeError(
                f"constrained decoding left its grammar: {self._matcher.get_error()}"
            )

    @property
    def finished(self) -> bool:
        """The document is complete and nothing may follow it."""
        return bool(self._matcher.is_stopped())


class Grammars:
    """Compiles schemas for one tokenizer (its llguidance view is built once, ~1 s)."""

    def __init__(self, tokenizer: Any) -> None:
        self._hf = tokenizer
        self._ll: Any = None

    def constraint(self, json_schema: str | None = None, lark: str | None = None) -> Constraint:
        """The state for one generation under a JSON schema or a Lark grammar."""
        import llguidance
        import llguidance.hf

        if self._ll is None:
            self._ll = llguidance.hf.from_tokenizer(self._hf)
        if lark is not None:
            grammar = llguidance.LLMatcher.grammar_from_lark(lark)
        else:
            schema = json_schema or JSON_OBJECT
            grammar = llguidance.LLMatcher.grammar_from_json_schema(schema, defaults=_COMPILE)
        problem = llguidance.LLMatcher.validate_grammar(grammar, self._ll)
        if problem and not problem.startswith("WARNING"):
            raise ValidationError(
                f"the JSON schema cannot be used for constrained output: {problem}",
                hint="check the schema (JSON Schema draft 2020-12 keywords)",
            )
        matcher = llguidance.LLMatcher(self._ll, grammar)
        return Constraint(matcher, self._ll.vocab_size)


def compact(schema: dict[str, Any]) -> dict[str, Any]:
    """A schema to embed in a Lark grammar (`%json`), compact like the JSON-schema path."""
    return {**schema, "x-guidance": {**schema.get("x-guidance", {}), **_COMPILE}}


def schema_text(schema: dict[str, Any] | None) -> str:
    """A schema as the config holds it (`None`: any JSON object)."""
    if schema is None:
        return JSON_OBJECT
    if not isinstance(schema, dict):
        raise ValidationError("a JSON schema must be an object", hint='e.g. {"type": "object"}')
    return json.dumps(schema, sort_keys=True)
