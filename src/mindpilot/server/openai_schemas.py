"""The OpenAI chat-completions wire format, as pydantic models (requests forbid unknown fields).

Requests name their problems precisely (422 with the field); responses add one field OpenAI
clients ignore, `mindpilot`: the provenance of the answer (the Mental Process records used).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from mindpilot.types import (
    AdapterUse,
    Citation,
    Message,
    Response,
    TokenLogprob,
    ToneUse,
    UsedRecord,
)

# torch's generator accepts seeds in this range.
SEED_MIN, SEED_MAX = -(2**63), 2**64 - 1
StopString = Annotated[str, Field(min_length=1)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TextPart(Strict):
    """A text part of a message (the list form of `content`); other part types are refused."""

    type: Literal["text"]
    text: str


class ToolCallFunction(Strict):
    name: str
    arguments: str = Field(description="The arguments as a JSON object, in a string.")


class ToolCall(Strict):
    id: str
    type: Literal["function"] = "function"
    function: ToolCallFunction


class ChatMessage(Strict):
    # "developer" is OpenAI's newer name for the system role; it is read as "system".
    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[TextPart] | None = None
    name: str | None = Field(default=None, description="Accepted and ignored.")
    tool_calls: list[ToolCall] | None = Field(default=None, description="An assistant's calls.")
    tool_call_id: str | None = Field(default=None, description="The call a tool message answers.")

    @model_validator(mode="after")
    def _has_content(self) -> ChatMessage:
        if self.content is None and not (self.role == "assistant" and self.tool_calls):
            raise ValueError(f"a {self.role} message needs content")
        return self

    def text(self) -> str:
        if self.content is None:
            return ""
        return (
            self.content if isinstance(self.content, str) else "".join(p.text for p in self.content)
        )

    def as_message(self) -> Message:
        """A turn as the model reads it: a tool's result is a user turn that says so, an
        assistant's tool calls the JSON it wrote for them."""
        if self.role == "tool":
            return Message("user", f"Result of tool call {self.tool_call_id or ''}: {self.text()}")
        if self.role == "assistant" and self.tool_calls:
            calls = [_call_json(c) for c in self.tool_calls]
            return Message("assistant", "\n".join(filter(None, [self.text(), *calls])))
        return Message("system" if self.role == "developer" else self.role, self.text())


def _call_json(call: ToolCall) -> str:
    try:
        arguments = json.loads(call.function.arguments or "{}")
    except json.JSONDecodeError:
        arguments = call.function.arguments
    return json.dumps({"name": call.function.name, "arguments": arguments}, ensure_ascii=False)


class FunctionDef(Strict):
    name: str = Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")
    description: str | None = None
    parameters: dict[str, Any] = Field(default_factory=lambda: {"type": "object"})
    strict: bool | None = Field(default=None, description="Always strict here: by construction.")


class ToolDef(Strict):
    type: Literal["function"]
    function: FunctionDef


class NamedFunction(Strict):
    name: str


class NamedToolChoice(Strict):
    type: Literal["function"]
    function: NamedFunction


class StreamOptions(Strict):
    include_usage: bool = False


class JsonSchemaFormat(Strict):
    """`response_format.json_schema`: the schema the answer must be valid for."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    name: str = Field(default="response", max_length=64)
    description: str | None = None
    json_schema: dict[str, Any] = Field(default_factory=dict, alias="schema")
    strict: bool | None = Field(default=None, description="Always strict here: by construction.")


class ResponseFormat(Strict):
    """`text` (default), `json_object` (any JSON object) or `json_schema`; the JSON modes
    decode under the grammar of the schema, so the answer is valid by construction."""

    type: Literal["text", "json_object", "json_schema"]
    json_schema: JsonSchemaFormat | None = None


class ChatRequest(Strict):
    """POST /v1/chat/completions. Unset decoding fields use mindpilot's defaults (greedy)."""

    model: str = Field(description="A task of your namespace, or the base model's name.")
    messages: list[ChatMessage] = Field(min_length=1)
    max_tokens: int | None = Field(default=None, ge=1)
    max_completion_tokens: int | None = Field(
        default=None, ge=1, description="Wins over max_tokens."
    )
    temperature: float | None = Field(default=None, ge=0, le=2, description="0 is greedy.")
    top_p: float | None = Field(default=None, gt=0, le=1)
    top_k: int | None = Field(default=None, ge=0, description="0: no limit (vLLM's extension).")
    presence_penalty: float | None = Field(default=None, ge=-2, le=2)
    frequency_penalty: float | None = Field(default=None, ge=-2, le=2)
    repetition_penalty: float | None = Field(
        default=None, gt=0, le=10, description="1: off (vLLM's extension)."
    )
    response_format: ResponseFormat | None = None
    tools: list[ToolDef] | None = Field(default=None, max_length=64)
    tool_choice: Literal["none", "auto", "required"] | NamedToolChoice | None = Field(
        default=None, description="Default: auto with tools, none without."
    )
    parallel_tool_calls: bool | None = Field(default=None, description="One call a turn here.")
    logprobs: bool = Field(default=False, description="Return each token's log-probability.")
    top_logprobs: int | None = Field(
        default=None, ge=0, le=20, description="With logprobs: this many alternatives a token."
    )
    stop: StopString | Annotated[list[StopString], Field(max_length=4)] | None = Field(
        default=None, description="Up to 4 stop strings."
    )
    seed: int | None = Field(default=None, ge=SEED_MIN, le=SEED_MAX)
    stream: bool = False
    stream_options: StreamOptions | None = None
    n: int = Field(default=1, ge=1, description="Only 1 is supported.")
    user: str | None = Field(default=None, description="Accepted and ignored.")

    def stop_strings(self) -> tuple[str, ...]:
        return (self.stop,) if isinstance(self.stop, str) else tuple(self.stop or ())

    def max_new_tokens(self) -> int | None:
        return self.max_completion_tokens or self.max_tokens


class UsageOut(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class TimingsOut(BaseModel):
    """Seconds spent on each step of the request inside the server."""

    retrieval_s: float
    compose_s: float
    prompt_s: float
    decode_s: float
    first_token_s: float


class Provenance(BaseModel):
    """Why the answer is what it is: the task and the Mental Process records it used."""

    task: str | None
    namespace: str
    # the engine's own dataclass, so every provenance field (e.g. `stage`) reaches the client
    used: list[UsedRecord]
    adapter: AdapterUse | None  # the task adapter the answer was made with, if any
    tone: str | None
    audit_id: str | None
    memory_tokens: int
    timings: TimingsOut
    # each sentence of the answer with the record (and its character offsets) that supports
    # it, record_id null when none does; an extractive answer is one span of one record
    citations: list[Citation] = []
    abstained: bool = False  # the answer is the task's "I don't know" line
    answer_mode: str = "generate"  # "generate" or "extractive"
    faithfulness: float = 0.0  # the context-aware decoding alpha applied (0: plain decoding)
    # the tone asked, how it was applied (steering vector id and strength, or the prompt line
    # only and why) and the answer's score on it
    tone_use: ToneUse | None = None

    @classmethod
    def of(cls, response: Response) -> Provenance:
        timings = response.generation.timings
        return cls(
            task=response.task,
            namespace=response.namespace,
            used=list(response.used),
            adapter=response.adapter,
            tone=response.tone,
            audit_id=response.audit_id,
            memory_tokens=response.memory_tokens,
            timings=TimingsOut(
                retrieval_s=response.retrieval_s,
                compose_s=response.compose_s,
                prompt_s=timings.prompt_s,
                decode_s=timings.decode_s,
                first_token_s=timings.first_token_s,
            ),
            citations=list(response.citations),
            abstained=response.abstained,
            answer_mode=response.answer_mode,
            faithfulness=response.faithfulness,
            tone_use=response.tone_use,
        )


def usage_of(response: Response) -> UsageOut:
    usage = response.generation.usage
    return UsageOut(
        prompt_tokens=usage.prompt_tokens,
        completion_tokens=usage.completion_tokens,
        total_tokens=usage.total_tokens,
    )


class AssistantMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str | None
    tool_calls: list[ToolCall] | None = None


class TopLogprob(BaseModel):
    token: str
    logprob: float
    bytes: list[int]


class TokenLogprobOut(TopLogprob):
    top_logprobs: list[TopLogprob]


class ChoiceLogprobs(BaseModel):
    """OpenAI's shape: one entry per generated token."""

    content: list[TokenLogprobOut]

    @classmethod
    def of(cls, logprobs: Sequence[TokenLogprob]) -> ChoiceLogprobs:
        def one(token: str, logprob: float) -> TopLogprob:
            return TopLogprob(token=token, logprob=logprob, bytes=list(token.encode()))

        return cls(
            content=[
                TokenLogprobOut(
                    **one(t.token, t.logprob).model_dump(),
                    top_logprobs=[one(token, value) for token, value in t.top],
                )
                for t in logprobs
            ]
        )


class Choice(BaseModel):
    index: int = 0
    message: AssistantMessage
    finish_reason: Literal["stop", "length", "tool_calls"]
    logprobs: ChoiceLogprobs | None = None


class ChatCompletion(BaseModel):
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[Choice]
    usage: UsageOut
    mindpilot: Provenance


class ToolCallDelta(ToolCall):
    index: int = 0  # which call of the message this chunk adds to (here: whole calls)


class Delta(BaseModel):
    role: Literal["assistant"] | None = None
    content: str | None = None
    tool_calls: list[ToolCallDelta] | None = None


class ChunkChoice(BaseModel):
    index: int = 0
    delta: Delta
    finish_reason: Literal["stop", "length", "tool_calls"] | None = None
    # streamed: every token's entry comes with the last chunk (the one with finish_reason)
    logprobs: ChoiceLogprobs | None = None


class ChatCompletionChunk(BaseModel):
    """One server-sent event of a streamed answer (`data: {...}`; the last is `data: [DONE]`).
    The chunk with the finish_reason carries the provenance; with
    `stream_options.include_usage`, a last chunk with no choices carries the usage."""

    id: str
    object: Literal["chat.completion.chunk"] = "chat.completion.chunk"
    created: int
    model: str
    choices: list[ChunkChoice]
    usage: UsageOut | None = None
    mindpilot: Provenance | None = None


class ModelCard(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str
    description: str = ""


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelCard]


def logprobs_of(response: Response) -> ChoiceLogprobs | None:
    """The choice's `logprobs`: None unless they were asked for (and a token was made)."""
    logprobs = response.generation.logprobs
    return ChoiceLogprobs.of(logprobs) if logprobs else None
