"""Shared value types, the bottom layer: messages, generation config and results, streams, the
decoding hook, and a response with its provenance.

Every other module may import this one; it imports nothing of mindpilot but `errors`, so no
import cycle can run through it (checked by import-linter in CI, see pyproject.toml).
"""

from __future__ import annotations

import math
from collections.abc import Generator, Sequence
from dataclasses import dataclass, replace
from typing import Any, Generic, Literal, Protocol, TypeVar

from mindpilot.errors import ConfigError, ValidationError

Role = Literal["system", "user", "assistant"]
ROLES: tuple[str, ...] = ("system", "user", "assistant")


@dataclass(frozen=True)
class Message:
    """One chat turn."""

    role: Role
    content: str

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise ValidationError(
                f"message role {self.role!r} is not valid", hint=f"use one of {', '.join(ROLES)}"
            )
        if not isinstance(self.content, str):
            raise ValidationError("message content must be text")


# What callers may pass as a prompt: plain text, or chat messages (objects or dicts).
Prompt = str | Sequence[Message | dict[str, str]]


def as_messages(prompt: Prompt) -> list[Message]:
    """Accept a plain prompt, Message objects or {"role", "content"} dicts."""
    if isinstance(prompt, str):
        if not prompt.strip():
            raise ValidationError("the prompt is empty", hint="give some text to answer")
        return [Message("user", prompt)]
    messages = [m if isinstance(m, Message) else Message(m["role"], m["content"]) for m in prompt]  # type: ignore[arg-type]
    if not messages:
        raise ValidationError("no messages given", hint="pass at least one user message")
    return messages


@dataclass(frozen=True)
class GenerationConfig:
    """How to decode. temperature 0 means greedy (deterministic)."""

    max_new_tokens: int = 256
    temperature: float = 0.0
    top_p: float = 1.0
    top_k: int = 0  # sample only from the k likeliest tokens; 0 = no limit
    # Against loops ("the legend of the legend of ..."), on the answer's own tokens:
    # repetition_penalty divides a seen token's positive logit (multiplies a negative one)
    # (Keskar et al. 2019; 1 = off); presence_penalty subtracts a constant from every seen
    # token, frequency_penalty that much per occurrence (OpenAI's definitions; 0 = off).
    repetition_penalty: float = 1.0
    presence_penalty: float = 0.0
    frequency_penalty: float = 0.0
    stop: tuple[str, ...] = ()
    seed: int | None = None
    # Log-probabilities of the chosen tokens, each with this many likeliest alternatives
    # (0-20); None = not computed. In-process backends only.
    logprobs: int | None = None
    # Constrained decoding: the answer is JSON valid for this JSON schema (given as a JSON
    # string; '{"type": "object"}' is any object), by construction. In-process backends only.
    json_schema: str | None = None
    # ...or under a grammar in llguidance's Lark syntax (`%json {...}` embeds a JSON schema):
    # tool calls are "a call's JSON or plain text".
    grammar: str | None = None
    # A task adapter (LoRA) the backend has loaded under this name; None = the bare base model.
    adapter: str | None = None
    # Context-aware decoding strength alpha: with a contrast prompt (the request without the
    # Mental Process records), each step decodes from (1 + alpha) * z_with - alpha * z_without.
    # 0 = plain decoding. In-process backends only.
    faithfulness: float = 0.0
    # Activation steering: the id of a steering vector the backend has loaded, added to the
    # residual stream times `steering_strength` (0 = off, no hook at all). In-process only;
    # the engine sets both from the task's emotional state (`ToneUse`).
    steering: str | None = None
    steering_strength: float = 0.0

    def __post_init__(self) -> None:
        for name in ("temperature", "top_p", "repetition_penalty", "presence_penalty",
                     "frequency_penalty", "faithfulness", "steering_strength"):  # fmt: skip
            if not math.isfinite(getattr(self, name)):
                raise ConfigError(f"{name}={getattr(self, name)} must be a finite number")
        if self.max_new_tokens < 1:
            raise ConfigError(f"max_new_tokens={self.max_new_tokens} must be at least 1")
        if self.temperature < 0:
            raise ConfigError(f"temperature={self.temperature} must be 0 (greedy) or more")
        if not 0 < self.top_p <= 1:
            raise ConfigError(f"top_p={self.top_p} must be in (0, 1]")
        if self.top_k < 0:
            raise ConfigError(f"top_k={self.top_k} must be 0 (no limit) or more")
        if not 0 < self.repetition_penalty <= 10:
            raise ConfigError(f"repetition_penalty={self.repetition_penalty} must be in (0, 10]")
        for name in ("presence_penalty", "frequency_penalty"):
            if not -2 <= getattr(self, name) <= 2:
                raise ConfigError(f"{name}={getattr(self, name)} must be in [-2, 2]")
        if any(not s for s in self.stop):
            raise ConfigError("stop strings must not be empty")
        if self.json_schema is not None and self.grammar is not None:
            raise ConfigError("give json_schema or grammar, not both")
        if self.logprobs is not None and not 0 <= self.logprobs <= 20:
            raise ConfigError(f"logprobs={self.logprobs} must be from 0 to 20 alternatives")
        if not 0 <= self.faithfulness <= 5:
            raise ConfigError(f"faithfulness={self.faithfulness} must be in [0, 5]")
        if not 0 <= self.steering_strength <= 10:
            raise ConfigError(f"steering_strength={self.steering_strength} must be in [0, 10]")

    @property
    def greedy(self) -> bool:
        return self.temperature == 0

    @property
    def penalised(self) -> bool:
        """Whether any penalty on already generated tokens is on."""
        return bool(self.repetition_penalty != 1 or self.presence_penalty or self.frequency_penalty)


def with_overrides(config: GenerationConfig | None, overrides: dict[str, Any]) -> GenerationConfig:
    """`config` (default: GenerationConfig()) with some fields replaced; `stop` may be one
    string or a list."""
    config = config or GenerationConfig()
    if "stop" in overrides and isinstance(overrides["stop"], str | list):
        stop = overrides["stop"]
        overrides["stop"] = (stop,) if isinstance(stop, str) else tuple(stop)
    return replace(config, **overrides) if overrides else config


@dataclass(frozen=True)
class Usage:
    prompt_tokens: int
    completion_tokens: int

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass(frozen=True)
class Timings:
    """Seconds. prompt_s: prompt processing (prefill); first_token_s: request to first text."""

    prompt_s: float
    decode_s: float
    first_token_s: float

    @property
    def total_s(self) -> float:
        return self.prompt_s + self.decode_s


FinishReason = Literal["stop", "length"]


@dataclass(frozen=True)
class TokenLogprob:
    """One generated token: its text, its log-probability under the model's distribution at
    that step (before temperature and penalties), and the likeliest alternatives."""

    token: str
    logprob: float
    top: tuple[tuple[str, float], ...] = ()


@dataclass(frozen=True)
class Generation:
    """A finished generation: the text and what it cost."""

    text: str
    finish_reason: FinishReason
    usage: Usage
    timings: Timings
    model: str
    backend: str
    logprobs: tuple[TokenLogprob, ...] = ()  # with GenerationConfig.logprobs set

    @property
    def tokens_per_second(self) -> float:
        return (
            self.usage.completion_tokens / self.timings.decode_s if self.timings.decode_s else 0.0
        )


class DecodingHook(Protocol):
    """What an in-process backend consults while decoding (self-taking during decoding).

    At each step the backend passes the answer so far and the model's confidence (the
    probability of its most likely next token). The hook may return new messages; the backend
    then re-reads them with the answer so far appended and goes on from there, and calls
    `accepted()` once it has (it may decline, e.g. when they would not fit the context).
    """

    def consult(self, answer: str, confidence: float) -> Sequence[Message] | None: ...

    def accepted(self) -> None: ...


R = TypeVar("R")


class Stream(Generic[R]):
    """An iterator of text pieces; `result` holds the final value once it is exhausted.

    `for piece in stream: ...` then `stream.result`. Joining the pieces gives `result.text`.
    Producers write a generator that yields pieces and *returns* the result (a Generation
    from a backend, a Response from the engine).
    """

    def __init__(self, pieces: Generator[str, None, R]) -> None:
        self._pieces = pieces
        self.result: R | None = None

    def __iter__(self) -> Stream[R]:
        return self

    def __next__(self) -> str:
        if self.result is not None:  # finished: an exhausted generator would return None
            raise StopIteration
        try:
            return next(self._pieces)
        except StopIteration as done:
            self.result = done.value
            raise

    def close(self) -> None:
        """Stop generating early (e.g. the client went away)."""
        self._pieces.close()

    def finish(self) -> R:
        """Drain what is left and return the result."""
        for _ in self:
            pass
        if self.result is None:
            raise RuntimeError("the stream was closed before it finished")
        return self.result


@dataclass(frozen=True)
class UsedRecord:
    """Provenance: one Mental Process record the answer was conditioned on."""

    id: str
    kind: str
    version: int
    similarity: float
    score: float
    # "prompt": taken before generating; "hop": found by a second (multi-hop) search before
    # generating; "decoding": taken mid-answer
    stage: str = "prompt"
    rerank_score: float | None = None  # the model's score when reranking ran (`score`: search's)


@dataclass(frozen=True)
class AdapterUse:
    """Provenance: the task adapter (LoRA weights on the frozen base) an answer was made with."""

    id: str  # "ad_" + 12 hex digits
    task: str
    version: int


@dataclass(frozen=True)
class Citation:
    """Where one piece of an answer comes from: a sentence of a generated answer, or the span
    an extractive answer is. `record_id` None: no taken record supports it."""

    text: str  # the piece of the answer
    start: int  # its character offsets in the answer
    end: int
    record_id: str | None
    version: int = 0
    record_start: int = -1  # character offsets of the supporting text in the record's text
    record_end: int = -1
    score: float = 0.0  # support strength (method-specific, higher is better)


@dataclass(frozen=True)
class ToneUse:
    """Provenance: the emotional state asked for, how it was applied and how the answer
    measured on it."""

    tone: str  # the state as stored (e.g. "empathy")
    intensity: float  # 0..1, the emotion record's
    control: str  # "steering" (prompt line + steering vector) or "prompt" (the line only)
    vector: str | None = None  # the steering vector's id
    strength: float = 0.0  # what the vector was multiplied by
    note: str = ""  # why the control is what it is, when it is less than asked
    measured: str | None = None  # the measured tone the state names (None: not measurable)
    score: float | None = None  # the answer's value on that tone's dimension
    carried: bool | None = None  # whether the answer scores as carrying the tone
    opening: str = ""  # the answer's first sentence, decoded with the vector (steering only)


@dataclass(frozen=True)
class Response:
    """An answer and why it is what it is."""

    text: str
    namespace: str
    task: str | None
    used: tuple[UsedRecord, ...]  # records taken from the Mental Process, in prompt order
    tone: str | None  # the emotional state the prompt asked for
    prompt: tuple[Message, ...]  # the composed messages the model saw
    generation: Generation
    retrieval_s: float
    compose_s: float
    memory_tokens: int  # prompt tokens added by the Mental Process (composed - bare)
    request: tuple[Message, ...] = ()  # the messages as the caller gave them
    audit_id: str | None = None  # the audit log entry, when the engine keeps one
    decode_searches: int = 0  # searches made mid-answer because the model was unsure
    hop_searches: int = 0  # second (multi-hop) searches made before generating
    decode_retrieval_s: float = 0.0
    adapter: AdapterUse | None = None  # the task's adapter applied to the base, if any
    citations: tuple[Citation, ...] = ()  # per sentence (generated) or the span (extractive)
    abstained: bool = False  # the answer is the task's "I don't know" line
    answer_mode: str = "generate"  # "generate" or "extractive"
    faithfulness: float = 0.0  # the context-aware decoding alpha that was applied
    tone_use: ToneUse | None = None  # how the tone was applied and measured

    @property
    def used_ids(self) -> list[str]:
        return [u.id for u in self.used]
