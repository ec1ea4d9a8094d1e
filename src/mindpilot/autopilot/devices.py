"""Where the in-process model runs: `auto` (CUDA when this torch sees a GPU), `cpu` or `cuda`.

On a GPU the weights are bfloat16 where the GPU supports it (Ampere and later): half the
memory and its native matrix format; the converted default model holds float32 values
dequantized from 4-bit GGUF blocks, which bfloat16 rounds by at most 2^-9 of each value.
Elsewhere (the CPU, older GPUs) float32, as before: the CPU has no fast bfloat16 products here
(measured: bfloat16 and float16 matrix-vector products no faster than float32 on 2 cores).
"""

from __future__ import annotations

import torch

from mindpilot.errors import ConfigError

CHOICES = ("auto", "cpu", "cuda")


def resolve_device(name: str) -> torch.device:
    """The torch device for a `device` setting; `cuda` without a CUDA device is an error, not a
    silent fallback (the user asked for the GPU)."""
    value = name.strip().lower()
    if value == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if value == "cpu":
        return torch.device("cpu")
    if value == "cuda" or value.startswith("cuda:"):
        if not torch.cuda.is_available():
            raise ConfigError(
                f"device {value!r} was asked for, but this torch ({torch.__version__}) sees no "
                "CUDA device",
                hint="use --device cpu (or auto), or a CUDA build of torch on a GPU machine",
            )
        return torch.device(value)
    raise ConfigError(f"unknown device {name!r}", hint=f"use one of: {', '.join(CHOICES)}")


def weights_dtype(device: torch.device) -> torch.dtype:
    """bfloat16 on a GPU that supports it, float32 otherwise."""
    if device.type == "cuda" and torch.cuda.is_bf16_supported():
        return torch.bfloat16
    return torch.float32
