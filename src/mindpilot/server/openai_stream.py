"""`stream: true`: a job's pieces as server-sent events in OpenAI's chunk format.

    data: {"object": "chat.completion.chunk", "choices": [{"delta": {"role": "assistant"}}]}
    data: {... "delta": {"content": "Hel"} ...}          one per piece
    data: {... "delta": {}, "finish_reason": "stop"}, "mindpilot": {provenance}}
    data: {... "choices": [], "usage": {...}}            with stream_options.include_usage
    data: [DONE]

An error after the first event cannot change the status any more: it is sent as an event
`data: {"error": {...}}` (which OpenAI clients raise), and the stream ends without [DONE].
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from mindpilot.server.errors import error_body, status_and_message
from mindpilot.server.openai_schemas import (
    ChatCompletionChunk,
    ChunkChoice,
    Delta,
    Provenance,
    ToolCall,
    ToolCallDelta,
    logprobs_of,
    usage_of,
)
from mindpilot.server.queue import Job
from mindpilot.types import Response

log = logging.getLogger("mindpilot.server")
CallsOf = Callable[[str], list[ToolCall] | None]  # an answer's tool calls, None if it is text


@dataclass(frozen=True)
class ChunkHeader:
    """What every chunk of one answer repeats."""

    id: str
    created: int
    model: str
    include_usage: bool

    def chunk(self, choices: list[ChunkChoice], **extra: Any) -> ChatCompletionChunk:
        return ChatCompletionChunk(
            id=self.id, created=self.created, model=self.model, choices=choices, **extra
        )


def _event(chunk: ChatCompletionChunk) -> str:
    data = chunk.model_dump(mode="json")
    for choice in data["choices"]:  # a delta holds only what it adds, as in OpenAI's chunks
        choice["delta"] = {k: v for k, v in choice["delta"].items() if v is not None}
    for name in ("usage", "mindpilot"):  # only on the chunks that carry them
        if data[name] is None:
            del data[name]
    return f"data: {json.dumps(data, ensure_ascii=False)}\n\n"


def _piece(header: ChunkHeader, delta: Delta) -> str:
    return _event(header.chunk([ChunkChoice(delta=delta)]))


def _final(header: ChunkHeader, response: Response, calls: bool = False) -> list[str]:
    finish = ChunkChoice(
        delta=Delta(),
        finish_reason="tool_calls" if calls else response.generation.finish_reason,
        logprobs=logprobs_of(response),
    )
    events = [_event(header.chunk([finish], mindpilot=Provenance.of(response)))]
    if header.include_usage:
        events.append(_event(header.chunk([], usage=usage_of(response))))
    return events


def _error(err: Exception) -> str:
    status, message = status_and_message(err)
    if status >= 500:
        log.error("generation failed while streaming: %s", message, exc_info=err)
    return f"data: {json.dumps(error_body(status, message), ensure_ascii=False)}\n\n"


async def sse_events(
    job: Job, header: ChunkHeader, calls_of: CallsOf | None = None
) -> AsyncIterator[str]:
    """The events of a started job. If the client goes away, the response machinery cancels
    this generator, and `finally` cancels the generation. With `calls_of` (tools offered) the
    answer is held until it is done: a tool call goes out as `tool_calls`, never as text."""
    try:
        yield _piece(header, Delta(role="assistant", content=""))
        while True:
            kind, value = await job.next()
            if kind == "piece":
                if calls_of is None:
                    yield _piece(header, Delta(content=value))
            elif kind == "done":
                calls = calls_of(value.text) if calls_of is not None else None
                if calls:
                    deltas = [ToolCallDelta(index=i, **c.model_dump()) for i, c in enumerate(calls)]
                    yield _piece(header, Delta(tool_calls=deltas))
                elif calls_of is not None and value.text:
                    yield _piece(header, Delta(content=value.text))
                for event in _final(header, value, bool(calls)):
                    yield event
                yield "data: [DONE]\n\n"
                return
            else:  # "error"
                yield _error(value)
                return
    finally:
        job.cancel()
