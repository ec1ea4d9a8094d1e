"""The interface every Autopilot backend implements, and their registry."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from mindpilot.errors import ConfigError
from mindpilot.types import DecodingHook, Generation, GenerationConfig, Message, Stream

if TYPE_CHECKING:
    from mindpilot.autopilot.steering import SteeringLibrary, SteeringVector
    from mindpilot.tone import Tone


class Backend(ABC):
    """A frozen language model that turns chat messages into text."""

    name: str  # registry name, e.g. "transformers"
    model_name: str  # what the model is called in responses
    context_window: int  # tokens the model can attend to (prompt + completion)
    # True when `stream_with_hook` really consults the hook (it needs the model's logits)
    consults_while_decoding = False
    # True when task adapters (LoRA weights on the frozen base) can be loaded and applied
    supports_adapters = False
    # True when `stream_with_hook` honours `contrast` (context-aware decoding needs the logits)
    supports_contrast = False
    # True when `steering_vector` works (activation steering needs the model's layers)
    supports_steering = False

    @abstractmethod
    def stream(self, messages: Sequence[Message], config: GenerationConfig) -> Stream[Generation]:
        """Generate, yielding text pieces as they are decoded."""

    @abstractmethod
    def count_tokens(self, messages: Sequence[Message]) -> int:
        """Prompt tokens these messages take once the chat template is applied."""

    def stream_with_hook(
        self,
        messages: Sequence[Message],
        config: GenerationConfig,
        hook: DecodingHook | None,
        contrast: Sequence[Message] | None = None,
    ) -> Stream[Generation]:
        """Like `stream`, consulting `hook` at each step; with `contrast` (the conversation
        without the Mental Process's records) and `config.faithfulness` > 0, context-aware
        decoding. Backends without the model's logits (`consults_while_decoding`,
        `supports_contrast` False) never consult the hook and ignore `contrast`: plain
        decoding, the documented fallback."""
        return self.stream(messages, config)

    def steering_vector(self, tone: Tone, library: SteeringLibrary) -> SteeringVector:
        """The tone's steering vector, loaded for decoding (`supports_steering` backends)."""
        raise ConfigError(
            f"the {self.name} backend cannot steer the model's activations",
            hint="a remote backend gets the tone as prompt guidance only",
        )

    def count_text(self, text: str) -> int:
        """Tokens a piece of text takes (no template). Estimated unless the backend knows."""
        return len(text) // 4 + 1 if text else 0

    def score_continuations(
        self,
        messages: Sequence[Message],
        continuations: Sequence[str],
        *,
        adapter: str | None = None,
    ) -> list[float]:
        """Log-likelihood of each continuation as the assistant's answer (for classification),
        with the loaded `adapter` applied if one is named. Needs the model's logits, which
        only an in-process backend has."""
        raise ConfigError(
            f"the {self.name} backend cannot score continuations",
            hint="classification needs the in-process transformers backend",
        )

    def score_text(
        self, prefix: str, continuations: Sequence[str], *, adapter: str | None = None
    ) -> list[float]:
        """Like `score_continuations` after a plain-text prefix (no chat template): a small
        model reads a completion prompt ("Review: ...\nSentiment:") better than a chat."""
        raise ConfigError(
            f"the {self.name} backend cannot score continuations",
            hint="classification needs the in-process transformers backend",
        )

    def score_after_prefixes(
        self, prefixes: Sequence[str], continuation: str, *, prefix_tokens: int
    ) -> list[float]:
        """log P(continuation | prefix) for each prefix, batched (reranking: the question
        after each passage). Needs the model's logits, which only an in-process backend has;
        an OpenAI-compatible server's completion API scores only what it generates."""
        raise ConfigError(
            f"the {self.name} backend cannot rerank search hits: reranking reads the model's "
            "log-probabilities of the question, which only the local backend has",
            hint="use --backend transformers, or set the task's rerank-depth to 0",
        )

    # ---- task adapters --------------------------------------------------------------------
    def load_adapter(self, name: str, folder: Path) -> None:
        """Load a saved adapter under `name`; requests name it in `GenerationConfig.adapter`."""
        raise self.no_adapters_error()

    def adapter_names(self) -> list[str]:
        """The adapters loaded so far."""
        return []

    def base_weights_hash(self) -> str:
        """A digest of every frozen base weight (adapters record it and are refused on
        another base)."""
        raise self.no_adapters_error()

    def no_adapters_error(self) -> ConfigError:
        return ConfigError(
            f"the {self.name} backend cannot apply task adapters: adapters need the local backend",
            hint="use --backend transformers, or deactivate the task's adapter "
            "(`mindpilot adapters deactivate TASK`)",
        )

    def generate(self, messages: Sequence[Message], config: GenerationConfig) -> Generation:
        # Non-streaming is the stream drained: both paths give the same text by construction.
        return self.stream(messages, config).finish()
