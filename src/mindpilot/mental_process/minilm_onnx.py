"""all-MiniLM-L6-v2 through ONNX Runtime: the fast path of the `minilm` embedder.

The bundled safetensors weights are exported once, at first use, to an ONNX graph with the
mean pooling and L2 normalisation inside it, then fused by ONNX Runtime's BERT optimizer
(attention, skip layer norm, bias GELU) and cached under MINDPILOT_CACHE, like the GGUF
conversion of the default model (autopilot/loading.py). Later processes load the cached file
(~0.3 s) and need neither torch nor transformers to embed: only `tokenizers` and `onnxruntime`.

Measured on 2 busy cores, 1 thread, against the torch path (same texts, same run):
single queries ~2.3x faster (7-8 ms vs 19 ms p50), cosine to the torch vectors >= 0.99999;
batches are no faster (~100 sentences/s both: MiniLM is ~21 MFLOP per token, so ingest is
bound by the core's matrix throughput, not by the runtime). More threads help batches only on
idle cores, hence `threads` for batches and 1 thread for single texts.
"""

from __future__ import annotations

import hashlib
import sys
import tempfile
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from mindpilot import config
from mindpilot.errors import ModelLoadError

# Bump when the exported graph changes (inputs, pooling, fusion), so old caches are not used.
EXPORT_VERSION = 1
INPUTS = ("input_ids", "attention_mask", "token_type_ids")
HEADS, HIDDEN = 12, 384  # all-MiniLM-L6-v2's attention heads and width (for the fusion pass)


def cached_export(model_dir: Path) -> Path:
    """The fused ONNX file for the MiniLM weights in `model_dir`, exported on first use."""
    target = config.cache_dir() / "embedders" / f"all-MiniLM-L6-v2-{_cache_key(model_dir)}.onnx"
    if not target.is_file():
        _export(model_dir, target)
    return target


def _cache_key(model_dir: Path) -> str:
    # The key covers the weights and every tool that shaped the graph: the fused ops are
    # ONNX Runtime contrib ops, so a new onnxruntime gets a fresh export.
    import onnxruntime

    weights = model_dir / "model.safetensors"
    stat = weights.stat()
    raw = (
        f"{weights.resolve()}|{stat.st_size}|{stat.st_mtime_ns}|{onnxruntime.__version__}"
        f"|{EXPORT_VERSION}"
    )
    return hashlib.sha256(raw.encode()).hexdigest()[:12]


def _export(model_dir: Path, target: Path) -> None:
    """Trace the model to ONNX, fuse it, and write it atomically (a half-written file never
    loads: it only appears under its final name once complete)."""
    print(
        f"Exporting all-MiniLM-L6-v2 to ONNX once (about 5 s); cached in {target}",
        file=sys.stderr,
    )
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".exporting-") as tmp:
        raw, fused = Path(tmp) / "raw.onnx", Path(tmp) / "fused.onnx"
        try:
            _trace(model_dir, raw)
            _fuse(raw, fused)
        except ImportError as err:
            raise ModelLoadError(f"cannot export MiniLM to ONNX: {err}") from err
        except (RuntimeError, ValueError, TypeError, OSError) as err:
            raise ModelLoadError(f"exporting MiniLM to ONNX failed: {err}") from err
        fused.replace(target)


def _trace(model_dir: Path, out: Path) -> None:
    import torch
    from transformers import AutoModel, AutoTokenizer
    from transformers.utils import logging as hf_logging

    # Eager attention traces to the plain BERT pattern that the fusion pass recognises
    # (the SDPA graph is left unfused: ~10% slower queries).
    bar = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()  # a bar for a sub-second load is noise
    try:
        model = AutoModel.from_pretrained(str(model_dir), attn_implementation="eager").eval()
    finally:
        if bar:
            hf_logging.enable_progress_bar()
    tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
    example = tokenizer(["a short one", "and a somewhat longer sentence"], padding=True,
                        return_tensors="pt")  # fmt: skip
    axes = {name: {0: "batch", 1: "tokens"} for name in INPUTS}
    # The tracer warns that the mask's padding test becomes a constant: it is (the mask is
    # always as long as the input), and tests/test_embed_runtimes.py compares the exported
    # graph with torch on batches of mixed lengths and on truncated texts.
    with torch.inference_mode(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            _pooled(model),
            tuple(example[name] for name in INPUTS),
            str(out),
            input_names=list(INPUTS),
            output_names=["embedding"],
            dynamic_axes={**axes, "embedding": {0: "batch"}},
            opset_version=17,
            dynamo=False,  # the TorchScript exporter: no onnxscript needed, and it is exact here
        )


def _fuse(raw: Path, out: Path) -> None:
    from onnxruntime.transformers import optimizer

    # opt_level 1: ONNX Runtime's own fusions are redone at session load, so the file stays
    # portable across CPUs (level 2+ would bake in this machine's kernels).
    fused = optimizer.optimize_model(
        str(raw), model_type="bert", num_heads=HEADS, hidden_size=HIDDEN, opt_level=1
    )
    counts = fused.get_fused_operator_statistics()
    if counts.get("Attention", 0) == 0:
        raise ValueError(f"the fusion pass found no attention layers to fuse: {counts}")
    fused.save_model_to_file(str(out))


def _pooled(model: Any) -> Any:
    """`model`, then mean pooling over the attention mask and L2 normalisation (what its
    sentence-transformers config does), as one torch module to trace. (B, T) ids -> (B, 384)."""
    import torch

    class Pooled(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            hidden = self.model(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state  # (B, T, 384)
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)  # (B, T, 1)
            pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)  # (B, 384)
            return torch.nn.functional.normalize(pooled, p=2, dim=1)

    return Pooled()


class OnnxMiniLM:
    """Tokenizer + ONNX Runtime sessions: `run(texts)` -> (n, 384) float32 unit rows.

    Single texts run on a 1-thread session; batches on one with `threads` threads (the same
    session when threads is 1). Not thread-safe: the embedder holds a lock around it.
    """

    def __init__(self, model_dir: Path, *, max_length: int, threads: int) -> None:
        import onnxruntime
        from tokenizers import Tokenizer

        path = cached_export(model_dir)
        # The file's own settings (truncate and pad to 128) are not the model's: pad each batch
        # to its longest text and truncate at max_length, as the torch path does.
        tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        tokenizer.enable_truncation(max_length=max_length)
        tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
        self._tokenizer = tokenizer
        self._single = _session(onnxruntime, path, 1)
        self._batch = self._single if threads == 1 else _session(onnxruntime, path, threads)

    def run(self, texts: list[str]) -> np.ndarray:
        encoded = self._tokenizer.encode_batch(texts)
        feeds = {
            "input_ids": np.array([e.ids for e in encoded], dtype=np.int64),  # (B, T)
            "attention_mask": np.array([e.attention_mask for e in encoded], dtype=np.int64),
            "token_type_ids": np.array([e.type_ids for e in encoded], dtype=np.int64),
        }
        session = self._single if len(texts) == 1 else self._batch
        (out,) = session.run(["embedding"], feeds)
        return np.asarray(out, dtype=np.float32)  # (B, 384)


def _session(onnxruntime: Any, path: Path, threads: int) -> Any:
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    if threads > 1:
        # Spinning workers burn a core between calls; on shared cores that slows everyone.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    try:
        return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as err:  # onnxruntime raises its own untyped errors for a bad file
        raise ModelLoadError(
            f"ONNX Runtime cannot load {path}: {err}",
            hint="delete the file; it is exported again on the next use",
        ) from err
