"""Plain decoding through ONNX Runtime: the optional fast path of the local backend.

The model's Hugging Face folder (for the default model, its GGUF conversion) is built once, at
first use, by ONNX Runtime GenAI's model builder into a decoder graph with a KV cache, fused
attention (GroupQueryAttention) and, at int8, MatMulNBits weight-only kernels; the graph is
cached beside the conversion, named by the weights' content and the tools' versions. The
decoding runs on `onnxruntime` (already a dependency); the builder, `onnxruntime-genai` and
`onnx-ir` (the `onnx` extra), builds, and its version is part of the cache key.

Measured on the default model (2 busy cores, 1 thread, same run; bench/README.md): int8 with
the lm_head over the last position only decodes at ~3.4x our torch loop, perplexity on
NarrativeQA summaries 40.26 -> 40.47 (+0.5%); fp32 gives torch's tokens, at ~torch's speed.
int4 was rejected on quality (+26 to +39% perplexity).
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch

from mindpilot import config
from mindpilot.autopilot.contrast import Logits
from mindpilot.errors import ModelLoadError

Precision = Literal["int8", "fp32"]
# Bump when the build's options change, so older builds are not used.
BUILD_VERSION = 1
INSTALL_HINT = "pip install 'onnxruntime-genai==0.18.0' 'onnx-ir==1.1.0' (the `onnx` extra)"
_DONE = "mindpilot-build.txt"  # written last inside the build: a folder without it is not one


def cached_build(folder: Path, precision: Precision) -> Path:
    """The ONNX build of the model in `folder` (config.json + safetensors), made on first use."""
    target = config.cache_dir() / "models" / f"{folder.name}.onnx-{precision}-{_key(folder)}"
    if not (target / _DONE).is_file():
        _build(folder, precision, target)
    return target


def _key(folder: Path) -> str:
    """The weights' content (size, first and last MiB of each file: tells apart files without
    reading them all), the config, and the versions of what shapes the graph."""
    import onnxruntime

    tools = f"{BUILD_VERSION}|{onnxruntime.__version__}|{_genai_version()}"
    digest = hashlib.sha256(tools.encode())
    digest.update((folder / "config.json").read_bytes())
    for weights in sorted([*folder.glob("*.safetensors"), *folder.glob("*.bin")]):
        size = weights.stat().st_size
        digest.update(f"{weights.name}|{size}|".encode())
        with weights.open("rb") as fp:
            digest.update(fp.read(_MIB))
            fp.seek(max(0, size - _MIB))
            digest.update(fp.read(_MIB))
    return digest.hexdigest()[:12]


_MIB = 1 << 20


def _genai_version() -> str:
    spec = importlib.util.find_spec("onnxruntime_genai")
    if spec is None or importlib.util.find_spec("onnx_ir") is None:
        raise ModelLoadError(
            "the onnx runtime needs ONNX Runtime GenAI's model builder, which is not installed",
            hint=f"{INSTALL_HINT}; or set runtime to torch (MINDPILOT_RUNTIME=torch)",
        )
    from importlib.metadata import version

    return version("onnxruntime-genai")


def _build(folder: Path, precision: Precision, target: Path) -> None:
    """Run the builder in a child process (its peak memory, ~2 GB for the default model, is
    freed with it), into a temporary folder renamed into place when complete."""
    print(
        f"Building {folder.name} for ONNX Runtime ({precision}) once (about 30 s); cached in "
        f"{target}",
        file=sys.stderr,
    )
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=".building-"))
    try:
        out = tmp / "model"
        _run_builder(folder, precision, out, tmp / "work")
        (out / _DONE).write_text(f"{folder}\n{precision}\n", encoding="utf-8")
        shutil.rmtree(target, ignore_errors=True)  # a damaged build being replaced
        out.rename(target)
    except OSError:
        if not (target / _DONE).is_file():  # another process may have won the race
            raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _run_builder(folder: Path, precision: Precision, out: Path, work: Path) -> None:
    # prune_lm_head: the prompt's lm_head over its last position only (the tied 49152x576
    # lm_head is 28M of the default model's 135M weights)
    command = [
        sys.executable, "-m", "onnxruntime_genai.models.builder", "-i", str(folder),
        "-o", str(out), "-p", precision, "-e", "cpu", "-c", str(work),
        "--extra_options", "prune_lm_head=true", "hf_token=false",
    ]  # fmt: skip
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0 or not (out / "model.onnx").is_file():
        tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-5:])
        raise ModelLoadError(
            f"ONNX Runtime GenAI's builder could not build {folder} ({precision}): {tail}",
            hint="the builder supports Llama-family models and others it lists; "
            "set runtime to torch (MINDPILOT_RUNTIME=torch) for this model",
        )


class OnnxDecoder:
    """One ONNX Runtime session over a build; `passes()` gives one decode's forward passes."""

    def __init__(self, build: Path, threads: int) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        self.build = build
        self.session = ort.InferenceSession(
            str(build / "model.onnx"), options, providers=["CPUExecutionProvider"]
        )
        pasts = [i for i in self.session.get_inputs() if i.name.startswith("past_key_values.")]
        self.past_names = [i.name for i in pasts]
        self.present_names = [n.replace("past_key_values.", "present.") for n in self.past_names]
        heads = pasts[0].shape[1]  # (batch, kv heads, past tokens, head size)
        self.empty = np.zeros((1, heads, 0, _head_size(build)), np.float32)  # no past yet

    def passes(self) -> OnnxPass:
        return OnnxPass(self)


def _head_size(build: Path) -> int:
    import json

    decoder = json.loads((build / "genai_config.json").read_text())["model"]["decoder"]
    return int(decoder["head_size"])


def load(folder: Path, precision: Precision, threads: int) -> OnnxDecoder:
    """The cached build of `folder` in a session; a build that does not load (damaged, cut
    short by a full disk) is said so, removed and built again, once."""
    build = cached_build(folder, precision)
    try:
        return OnnxDecoder(build, threads)
    except _load_errors() as err:
        print(
            f"The ONNX build in {build} does not load ({str(err)[:200]}); building it again",
            file=sys.stderr,
        )
    shutil.rmtree(build, ignore_errors=True)
    build = cached_build(folder, precision)
    try:
        return OnnxDecoder(build, threads)
    except _load_errors() as err:
        raise ModelLoadError(
            f"the ONNX build in {build} does not load, even rebuilt: {err}",
            hint="set runtime to torch (MINDPILOT_RUNTIME=torch) and report the model",
        ) from err


def _load_errors() -> tuple[type[BaseException], ...]:
    """What a damaged build raises: onnxruntime's own error types derive from Exception only;
    a missing or unreadable genai_config.json raises the others."""
    from onnxruntime.capi import onnxruntime_pybind11_state as ort_errors

    return (
        ort_errors.Fail, ort_errors.InvalidArgument, ort_errors.NoSuchFile,
        ort_errors.InvalidProtobuf, ort_errors.InvalidGraph, ort_errors.RuntimeException,
        OSError, ValueError, KeyError,
    )  # fmt: skip


class OnnxPass:
    """Plain decoding (contrast.Passes): one prompt, the KV cache as numpy arrays between
    calls, (batch, kv heads, tokens, head size) each."""

    def __init__(self, decoder: OnnxDecoder) -> None:
        self.decoder = decoder
        self.past: list[np.ndarray] = []
        self.length = 0

    def read(self, prompt: list[int], answer: list[int]) -> Logits:
        self.past = [self.decoder.empty] * len(self.decoder.past_names)
        self.length = 0
        return self._forward(prompt + answer)

    def step(self, token: int) -> Logits:
        return self._forward([token])

    def _forward(self, ids: list[int]) -> Logits:
        self.length += len(ids)
        feeds: dict[str, Any] = {
            "input_ids": np.array([ids], dtype=np.int64),
            "attention_mask": np.ones((1, self.length), dtype=np.int64),
            **dict(zip(self.decoder.past_names, self.past, strict=True)),
        }
        out = self.decoder.session.run(["logits", *self.decoder.present_names], feeds)
        self.past = out[1:]
        logits = torch.from_numpy(out[0][0, -1].copy())  # (vocab,) float32
        return Logits(logits, logits)
