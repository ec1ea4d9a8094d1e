"""Tone as a decoding-time control: activation steering (Rimsky et al. 2023, "Steering Llama 2
via Contrastive Activation Addition"; Turner et al. 2023, ActAdd).

A tone's vector is the mean difference of the residual stream after one decoder layer between
support answers that open with a sentence in the tone and the same answers without it
(`tone.tones`: openers x PLAIN_ANSWERS). While decoding, `strength * vector` is added to that
layer's output at the answer's positions (not the prompt's). It is computed once per base model
and tone (~2 s for the default model) and saved under MINDPILOT_HOME/steering/<base hash>/,
with the base's weight hash inside: a vector is only ever added to the model it was computed on.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mindpilot import config
from mindpilot.autopilot.prompt_tokens import chat_ids, encode_text
from mindpilot.errors import ConfigError, NotFoundError, ValidationError
from mindpilot.tone import Tone
from mindpilot.tone.tones import PLAIN_ANSWERS
from mindpilot.types import Message

if TYPE_CHECKING:
    import torch

# Bump when the recipe (sentences, layer rule, pooling) changes: a new version is computed,
# old files stay listed until deleted.
RECIPE_VERSION = 1
# The layer steered, as a fraction of the depth: the middle of the network, where the
# measured sweep (docs/tone.md) kept answers fluent at the strengths used.
LAYER_FRACTION = 0.5


@dataclass(frozen=True)
class SteeringVector:
    """One tone's vector for one base model."""

    id: str  # "sv_" + 12 hex digits
    tone: str
    version: int  # RECIPE_VERSION it was computed with
    layer: int  # index of the decoder layer whose output it is added to
    base_hash: str  # SHA-256 of the base model's weights
    model: str  # the base model's name, for people
    created_at: float
    vector: torch.Tensor  # (hidden,)

    def describe(self) -> dict[str, Any]:
        """Everything but the tensor (listings, provenance)."""
        return {
            "id": self.id, "tone": self.tone, "version": self.version, "layer": self.layer,
            "base_hash": self.base_hash, "model": self.model, "created_at": self.created_at,
            "norm": float(self.vector.norm()),
        }  # fmt: skip


def vector_id(base_hash: str, tone: Tone, layer: int) -> str:
    recipe = json.dumps([base_hash, tone.name, RECIPE_VERSION, layer, tone.openers, PLAIN_ANSWERS])
    return "sv_" + hashlib.sha256(recipe.encode()).hexdigest()[:12]


def decoder_layers(model: Any) -> Any:
    """The model's list of decoder layers (Llama-style `model.layers`)."""
    decoder = model.get_decoder() if hasattr(model, "get_decoder") else None
    layers = getattr(decoder, "layers", None)
    if layers is None:
        raise ConfigError(
            f"cannot find the decoder layers of {type(model).__name__} to steer",
            hint="tone steering supports Llama-style models; the tone stays a prompt line",
        )
    return layers


def compute(model: Any, tokenizer: Any, tone: Tone, *, base_hash: str, name: str) -> SteeringVector:
    """The tone's vector on `model` (the frozen base, no adapter), from contrastive pairs."""
    import torch

    layer = max(0, round(len(decoder_layers(model)) * LAYER_FRACTION) - 1)
    differences = []
    with torch.inference_mode():
        for question, answer in PLAIN_ANSWERS:
            prompt = chat_ids(tokenizer, [Message("user", question)])
            plain = _answer_mean(model, prompt, encode_text(tokenizer, answer), layer)
            for opener in tone.openers:
                toned = encode_text(tokenizer, f"{opener} {answer}")
                differences.append(_answer_mean(model, prompt, toned, layer) - plain)
    vector = torch.stack(differences).mean(0)  # (hidden,)
    return SteeringVector(
        vector_id(base_hash, tone, layer), tone.name, RECIPE_VERSION, layer, base_hash, name,
        time.time(), vector.float().contiguous(),
    )  # fmt: skip


def _answer_mean(model: Any, prompt: list[int], answer: list[int], layer: int) -> torch.Tensor:
    """Mean residual stream after decoder layer `layer` over the answer's tokens: (hidden,)."""
    import torch

    out = model(input_ids=torch.tensor([prompt + answer]), output_hidden_states=True)
    return out.hidden_states[layer + 1][0, len(prompt) :].mean(0)  # [0] is the embeddings


@contextlib.contextmanager
def steered(model: Any, vector: SteeringVector, strength: float, start: int = 0) -> Iterator[None]:
    """Add `strength * vector` to the output of its layer at the positions from `start` on,
    for the passes inside. Decoding passes the prompt's last position: the answer is steered,
    the prompt (the records it must read) is not, as CAA steers the positions after the
    instruction. Nothing is registered when strength is 0, so an unsteered decode costs nothing."""
    if strength == 0:
        yield
        return
    shift = strength * vector.vector

    def add(_module: Any, _args: Any, kwargs: dict[str, Any], output: Any) -> Any:
        hidden = output[0] if isinstance(output, tuple) else output  # older transformers: tuple
        positions = kwargs.get("position_ids")
        if positions is None:  # a model that does not pass them: every position
            steered_hidden = hidden + shift
        else:
            mask = (positions >= start).unsqueeze(-1).to(hidden.dtype)  # (batch, seq, 1)
            steered_hidden = hidden + mask * shift
        if isinstance(output, tuple):
            return (steered_hidden, *output[1:])
        return steered_hidden

    layer = decoder_layers(model)[vector.layer]
    handle = layer.register_forward_hook(add, with_kwargs=True)
    try:
        yield
    finally:
        handle.remove()


class SteeringLibrary:
    """The installation's steering vectors: MINDPILOT_HOME/steering/<base hash[:16]>/
    <tone>-v<version>.safetensors, the metadata (base hash included) inside each file."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = root if root is not None else config.home() / "steering"

    def path(self, base_hash: str, tone: str, version: int = RECIPE_VERSION) -> Path:
        return self.root / base_hash[:16] / f"{tone}-v{version}.safetensors"

    def save(self, vector: SteeringVector) -> Path:
        from safetensors.torch import save_file

        path = self.path(vector.base_hash, vector.tone, vector.version)
        path.parent.mkdir(parents=True, exist_ok=True)
        meta = {k: str(v) for k, v in vector.describe().items() if k != "norm"}
        tmp = path.with_suffix(".tmp")
        save_file({"vector": vector.vector}, str(tmp), metadata=meta)
        tmp.replace(path)  # whole or absent: a crash mid-write leaves no half file
        return path

    def load(self, path: Path, base_hash: str | None = None) -> SteeringVector:
        """The vector in `path`; with `base_hash`, refused unless computed on that base."""
        from safetensors import safe_open

        try:
            with safe_open(str(path), framework="pt") as f:
                meta = f.metadata() or {}
                tensor = f.get_tensor("vector")
            vector = SteeringVector(
                meta["id"], meta["tone"], int(meta["version"]), int(meta["layer"]),
                meta["base_hash"], meta["model"], float(meta["created_at"]), tensor,
            )  # fmt: skip
        except (OSError, KeyError, ValueError, RuntimeError) as err:
            raise ValidationError(
                f"{path} is not a readable steering vector: {err}",
                hint="delete it; it is computed again on next use",
            ) from err
        if base_hash is not None and vector.base_hash != base_hash:
            raise ConfigError(
                f"steering vector {vector.id} ({vector.tone}) was computed for another base "
                f"model ({vector.model}, weights {vector.base_hash[:12]}), not this one "
                f"({base_hash[:12]})",
                hint=f"delete {path}; it is computed again for this model on next use "
                "(`mindpilot tone build TONE`)",
            )
        return vector

    def find(self, base_hash: str, tone: str) -> SteeringVector | None:
        """The current-recipe vector of `tone` for the base, if computed (checked against
        the base's hash, so a file copied in from another base is refused)."""
        path = self.path(base_hash, tone)
        return self.load(path, base_hash) if path.is_file() else None

    def list(self) -> list[SteeringVector]:
        """Every saved vector, any base, by folder then tone."""
        if not self.root.is_dir():
            return []
        return [self.load(p) for p in sorted(self.root.glob("*/*.safetensors"))]

    def get(self, vector_id: str) -> tuple[SteeringVector, Path]:
        for path in sorted(self.root.glob("*/*.safetensors")) if self.root.is_dir() else ():
            vector = self.load(path)
            if vector.id == vector_id:
                return vector, path
        raise NotFoundError(
            f"no steering vector {vector_id!r}", hint="list them with `mindpilot tone list`"
        )
