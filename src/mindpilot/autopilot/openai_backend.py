"""A backend that calls any OpenAI-compatible chat-completions server.

vLLM, TGI, Ollama, llama.cpp's server or another mindpilot: this is how a user scales past
one machine. The remote model is assumed frozen too; mindpilot only sends it prompts.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Generator, Sequence
from typing import Any

from mindpilot.autopilot.backend import Backend
from mindpilot.errors import BackendError, ConfigError, ModelNotFoundError
from mindpilot.types import (
    Generation,
    GenerationConfig,
    Message,
    Stream,
    Timings,
    TokenLogprob,
    Usage,
)


class OpenAIBackend(Backend):
    """Chat completions over HTTP, streamed."""

    name = "openai"

    def __init__(
        self,
        model: str | None = None,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        context_window: int = 8192,
        timeout: float = 120.0,
    ) -> None:
        import openai

        # the openai client's own variables too: a user of it has them set already
        base_url = (
            base_url
            or os.environ.get("MINDPILOT_OPENAI_BASE_URL")
            or os.environ.get("OPENAI_BASE_URL")
        )
        if not base_url:
            raise ConfigError(
                "the openai backend needs the server's address",
                hint="pass base_url='http://host:port/v1' or set OPENAI_BASE_URL",
            )
        if not model:
            raise ConfigError("the openai backend needs a model name", hint="pass model='...'")
        self.model_name = model
        self.base_url = base_url
        self.context_window = context_window
        key = (
            api_key
            or os.environ.get("MINDPILOT_OPENAI_API_KEY")
            or os.environ.get("OPENAI_API_KEY")
            or "not-needed"
        )
        self._client = openai.OpenAI(base_url=base_url, api_key=key, timeout=timeout, max_retries=0)

    def count_tokens(self, messages: Sequence[Message]) -> int:
        # ~4 tokens of chat-template framing per message
        return sum(self.count_text(m.content) + 4 for m in messages)

    def stream(self, messages: Sequence[Message], config: GenerationConfig) -> Stream[Generation]:
        if config.adapter is not None:  # the remote server holds no weights of ours
            raise self.no_adapters_error()
        return Stream(self._chunks(messages, config))

    def _request(self, messages: Sequence[Message], config: GenerationConfig) -> dict[str, Any]:
        request: dict[str, Any] = {
            "model": self.model_name,
            "messages": [{"role": m.role, "content": m.content} for m in messages],
            "max_tokens": config.max_new_tokens,
            "temperature": config.temperature,
            "top_p": config.top_p,
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        if config.stop:
            request["stop"] = list(config.stop)
        if config.seed is not None:
            request["seed"] = config.seed
        if config.json_schema is not None:  # constrained output: the server's own
            schema = json.loads(config.json_schema)
            request["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": "answer", "schema": schema, "strict": True},
            }
        if config.logprobs is not None:
            request["logprobs"] = True
            request["top_logprobs"] = config.logprobs
        for name in ("presence_penalty", "frequency_penalty"):  # OpenAI's own fields
            if getattr(config, name):
                request[name] = getattr(config, name)
        extra: dict[str, float] = {}  # vLLM's (and mindpilot's) extensions, sent only when set
        if config.top_k:
            extra["top_k"] = config.top_k
        if config.repetition_penalty != 1:
            extra["repetition_penalty"] = config.repetition_penalty
        if extra:
            request["extra_body"] = extra
        return request

    def _chunks(
        self, messages: Sequence[Message], config: GenerationConfig
    ) -> Generator[str, None, Generation]:
        import openai

        started = time.perf_counter()
        first_at, finish, usage, pieces = 0.0, "stop", None, []
        logprobs: list[TokenLogprob] = []
        try:
            for chunk in self._client.chat.completions.create(**self._request(messages, config)):
                usage = chunk.usage or usage
                for choice in chunk.choices:
                    finish = choice.finish_reason or finish
                    logprobs += _logprobs(choice.logprobs)
                    if choice.delta and choice.delta.content:
                        first_at = first_at or time.perf_counter()
                        pieces.append(choice.delta.content)
                        yield choice.delta.content
        except openai.NotFoundError as err:
            raise ModelNotFoundError(
                f"the server at {self.base_url} has no model {self.model_name!r}: {err.message}",
                hint="list its models with GET /v1/models",
            ) from None
        except openai.APIStatusError as err:
            raise BackendError(
                f"the server at {self.base_url} answered {err.status_code}: {err.message}"
            ) from None
        except openai.APIConnectionError:
            raise BackendError(
                f"cannot reach an OpenAI-compatible server at {self.base_url}",
                hint="start the server or check the base URL",
            ) from None
        ended = time.perf_counter()
        return Generation(
            text="".join(pieces),
            logprobs=tuple(logprobs),
            finish_reason="length" if finish == "length" else "stop",
            usage=Usage(
                prompt_tokens=usage.prompt_tokens if usage else self.count_tokens(messages),
                completion_tokens=usage.completion_tokens if usage else len(pieces),
            ),
            # Over HTTP we cannot see prefill and decode apart: the first piece marks the split.
            timings=Timings(
                prompt_s=(first_at or ended) - started,
                decode_s=ended - (first_at or ended),
                first_token_s=(first_at or ended) - started,
            ),
            model=self.model_name,
            backend=self.name,
        )


def _logprobs(received: Any) -> list[TokenLogprob]:
    """A chunk's `logprobs.content` items as TokenLogprob (none when the server sent none)."""
    items = getattr(received, "content", None) or []
    return [
        TokenLogprob(
            item.token,
            float(item.logprob),
            tuple((alt.token, float(alt.logprob)) for alt in item.top_logprobs or ()),
        )
        for item in items
    ]
