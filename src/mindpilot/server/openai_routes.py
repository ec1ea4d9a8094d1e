"""The OpenAI-compatible API: POST /v1/chat/completions and GET /v1/models.

A model name is a task of the caller's namespace (its profile decides persona, tone and what
the Mental Process may give) or the base model's name (no Mental Process). A task is a name
with a task profile, or with emotion/experience records stored under it (the proposal's tasks
that exist only as record labels); /v1/models lists the profiles.
"""

from __future__ import annotations

import json
import time
import uuid
from functools import partial
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response as HTTPResponse
from fastapi.responses import StreamingResponse
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool

from mindpilot.autopilot.constrained import schema_text
from mindpilot.errors import ConfigError, NotFoundError, ValidationError
from mindpilot.server import tools
from mindpilot.server.deps import ServerState, caller_namespace, get_state
from mindpilot.server.errors import error_docs
from mindpilot.server.openai_schemas import (
    AssistantMessage,
    ChatCompletion,
    ChatRequest,
    Choice,
    ModelCard,
    ModelList,
    Provenance,
    logprobs_of,
    usage_of,
)
from mindpilot.server.openai_stream import ChunkHeader, sse_events
from mindpilot.server.queue import ClientGone
from mindpilot.types import GenerationConfig, Message, Response, Stream

router = APIRouter(tags=["OpenAI-compatible"])

# 499: nginx's "client closed request"; nobody reads it, but the access log shows why.
CLIENT_CLOSED = 499


@router.get("/v1/models", response_model=ModelList, responses=error_docs(401))
def list_models(request: Request, namespace: str = Depends(caller_namespace)) -> ModelList:
    """The base model and the tasks of your namespace: each is a `model` for chat."""
    return ModelList(data=_model_cards(get_state(request), namespace))


@router.get("/v1/models/{model}", response_model=ModelCard, responses=error_docs(401, 404))
def get_model(
    model: str, request: Request, namespace: str = Depends(caller_namespace)
) -> ModelCard:
    """One model (task or base model) of your namespace."""
    cards = _model_cards(get_state(request), namespace)
    for card in cards:
        if card.id == model:
            return card
    raise _unknown_model(model, namespace, cards)


@router.post(
    "/v1/chat/completions",
    response_model=ChatCompletion,
    responses={
        200: {"content": {"text/event-stream": {"description": "with stream: true"}}},
        **error_docs(400, 401, 404, 413, 422, 429),
    },
)
async def chat_completions(
    body: ChatRequest, request: Request, namespace: str = Depends(caller_namespace)
) -> Any:
    """Chat with a task (or the bare base model), OpenAI-style; `stream: true` for SSE.
    The extra field `mindpilot` gives the provenance: the Mental Process records used."""
    if body.n != 1:
        raise ConfigError(  # one decode per request: batching n would fork the decode hooks
            f"n={body.n}: mindpilot returns one choice",
            hint="send n=1 or omit n; for several answers, send the request again with "
            "temperature > 0 and another seed",
        )
    config = _generation_config(body)
    told = tools.instruction(body) + _format_instruction(body)
    messages = told + [m.as_message() for m in body.messages]
    state = get_state(request)
    task = await run_in_threadpool(_resolve_model, state, namespace, body.model)
    budget = state.queue.budget(request)
    job = state.queue.submit(partial(_start, state, namespace, task, messages, config), budget)
    header = ChunkHeader(
        id=f"chatcmpl-{uuid.uuid4().hex[:24]}",
        created=int(time.time()),
        model=body.model,
        include_usage=bool(body.stream_options and body.stream_options.include_usage),
    )
    try:
        if body.stream:
            await job.started(request)
            calls_of = partial(tools.calls, body=body) if body.tools else None
            return StreamingResponse(
                sse_events(job, header, calls_of),
                media_type="text/event-stream",
                headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
                # runs even when the client left before the first event (the events'
                # `finally` then never runs); cancelling a finished job does nothing
                background=BackgroundTask(job.cancel),
            )
        return _completion(header, await job.result(request), body)
    except ClientGone:
        return HTTPResponse(status_code=CLIENT_CLOSED)
    except BaseException:
        job.cancel()
        raise


def _generation_config(body: ChatRequest) -> GenerationConfig:
    fields: dict[str, Any] = {"stop": body.stop_strings(), "seed": body.seed}
    fmt = body.response_format
    calling = tools.grammar(body)
    if calling is not None:
        if fmt is not None and fmt.type != "text":
            raise ConfigError(
                "tools and a JSON response_format cannot both shape one answer",
                hint="send tools, or response_format, or set tool_choice to none",
            )
        fields["grammar"] = calling
    if fmt is not None and fmt.type == "json_object":
        fields["json_schema"] = schema_text(None)
    elif fmt is not None and fmt.type == "json_schema":
        if fmt.json_schema is None or not fmt.json_schema.json_schema:
            raise ValidationError(
                "response_format json_schema needs its schema",
                hint='send {"type": "json_schema", "json_schema": {"name": ..., "schema": {...}}}',
            )
        fields["json_schema"] = schema_text(fmt.json_schema.json_schema)
    if body.logprobs:
        fields["logprobs"] = body.top_logprobs or 0
    for name, value in (
        ("max_new_tokens", body.max_new_tokens()),
        ("temperature", body.temperature),
        ("top_p", body.top_p),
        ("top_k", body.top_k),
        ("presence_penalty", body.presence_penalty),
        ("frequency_penalty", body.frequency_penalty),
        ("repetition_penalty", body.repetition_penalty),
    ):
        if value is not None:
            fields[name] = value
    return GenerationConfig(**fields)


def _format_instruction(body: ChatRequest) -> list[Message]:
    """What the model is told when its answer must be JSON: the grammar guarantees the form,
    the instruction (and the schema) lets a small model fill it with the right content."""
    fmt = body.response_format
    if fmt is None or fmt.type == "text":
        return []
    if fmt.type == "json_object" or fmt.json_schema is None:
        return [Message("system", "Answer with a JSON object only.")]
    schema = json.dumps(fmt.json_schema.json_schema, separators=(",", ":"))
    return [Message("system", f"Answer with a JSON object only, matching this schema: {schema}")]


def _start(
    state: ServerState,
    namespace: str,
    task: str | None,
    messages: list[Message],
    config: GenerationConfig,
) -> Stream[Response]:
    """Runs in the generation worker: self-taking, then the stream (not yet decoding)."""
    engine = state.engine
    prepared = engine.prepare(messages, task=task, namespace=namespace, use_memory=bool(task))
    return engine.stream_answer(prepared, config)


def _completion(header: ChunkHeader, response: Response, body: ChatRequest) -> ChatCompletion:
    calls = tools.calls(response.text, body)
    message = (
        AssistantMessage(content=None, tool_calls=calls)
        if calls
        else AssistantMessage(content=response.text)
    )
    return ChatCompletion(
        id=header.id,
        created=header.created,
        model=header.model,
        choices=[
            Choice(
                message=message,
                finish_reason="tool_calls" if calls else response.generation.finish_reason,
                logprobs=logprobs_of(response),
            )
        ],
        usage=usage_of(response),
        mindpilot=Provenance.of(response),
    )


def _resolve_model(state: ServerState, namespace: str, model: str) -> str | None:
    """The task a model name stands for; None for the base model (no Mental Process)."""
    if model == state.engine.model_name:
        return None
    if _is_task(state, namespace, model):
        return model
    raise _unknown_model(model, namespace, _model_cards(state, namespace))


def _is_task(state: ServerState, namespace: str, name: str) -> bool:
    """A task with a profile, or one known only by its records (as /v1/models lists them)."""
    return name in state.store.task_names(namespace)


def _model_cards(state: ServerState, namespace: str) -> list[ModelCard]:
    base = state.engine.model_name
    cards = [ModelCard(id=base, created=0, owned_by="mindpilot", description="the base model")]
    profiles = {p.name: p for p in state.store.list_tasks(namespace)}
    for name in state.store.task_names(namespace):
        profile = profiles.get(name)
        cards.append(
            ModelCard(
                id=name,
                created=int(profile.created_at) if profile else 0,
                owned_by=namespace,
                description=profile.description if profile else "a task known by its records",
            )
        )
    return cards


def _unknown_model(model: str, namespace: str, cards: list[ModelCard]) -> NotFoundError:
    names = ", ".join(repr(c.id) for c in cards)
    return NotFoundError(
        f"model {model!r} is neither a task of namespace {namespace!r} nor the base model",
        hint=f"use one of {names} (GET /v1/models), or create the task first "
        "(`mindpilot task create`)",
    )
