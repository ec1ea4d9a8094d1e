"""The Autopilot System: the frozen pretrained model, whatever backend runs it."""

from __future__ import annotations

from typing import Any

from mindpilot.autopilot.backend import Backend
from mindpilot.plugins import BACKENDS
from mindpilot.types import (
    Generation,
    GenerationConfig,
    Prompt,
    Stream,
    as_messages,
    with_overrides,
)


class Autopilot:
    """The knowledge foundation: a frozen LM behind a backend (`transformers` or `openai`).

    >>> autopilot = Autopilot.load()            # the bundled SmolLM2-135M-Instruct, offline
    >>> autopilot.generate("What is the capital of France?").text
    """

    def __init__(self, backend: Backend) -> None:
        self.backend = backend

    @classmethod
    def load(
        cls, model: str | None = None, *, backend: str = "transformers", **options: Any
    ) -> Autopilot:
        """Load `model` (None = the bundled default) on the named backend."""
        return cls(BACKENDS.create(backend, model, **options))

    @staticmethod
    def name_of(model: str | None, backend: str = "transformers") -> str:
        """The name `load(model, backend=backend)` will report, without loading anything (a
        server lists it before the first generation loads the model)."""
        if backend == "transformers":
            from mindpilot.autopilot.loading import resolve

            return resolve(model).name
        return model or backend

    @property
    def model_name(self) -> str:
        return self.backend.model_name

    @property
    def context_window(self) -> int:
        return self.backend.context_window

    def generate(
        self, prompt: Prompt, config: GenerationConfig | None = None, **overrides: Any
    ) -> Generation:
        """Answer a prompt or chat messages. `overrides` are GenerationConfig fields."""
        return self.backend.generate(as_messages(prompt), with_overrides(config, overrides))

    def stream(
        self, prompt: Prompt, config: GenerationConfig | None = None, **overrides: Any
    ) -> Stream[Generation]:
        """Like `generate`, as an iterator of text pieces; `.result` holds the Generation after."""
        return self.backend.stream(as_messages(prompt), with_overrides(config, overrides))

    @property
    def consults_while_decoding(self) -> bool:
        """Whether the backend can retrieve mid-answer (see Backend.stream_with_hook)."""
        return self.backend.consults_while_decoding

    def count_tokens(self, prompt: Prompt) -> int:
        """Prompt tokens, chat template included."""
        return self.backend.count_tokens(as_messages(prompt))

    def count_text(self, text: str) -> int:
        """Tokens of a bare piece of text."""
        return self.backend.count_text(text)


def create_autopilot_system(model_name: str | None = None) -> tuple[Any, Any]:
    """The proposal's entry point: the frozen model and its tokenizer.

    `model_name=None` gives the bundled default (the proposal used "gpt2"; any local model or
    one in the offline Hugging Face cache works too). Use `Autopilot.load` for the richer API.
    """
    from mindpilot.autopilot.transformers_backend import TransformersBackend

    backend = TransformersBackend.load(model_name)
    return backend.model, backend.tokenizer
