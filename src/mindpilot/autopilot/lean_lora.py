"""Serving LoRA adapters without peft's per-layer bookkeeping.

peft's LoRA `Linear.forward` runs a dozen Python steps per layer and token (argument checks,
the variant kwargs, a loop over active adapters, dictionary lookups, dtype casts); on the
default model that is ~210 layers per token, and it cost decoding 12% of the bare base's
tokens/s. Serving needs none of it: one adapter at a time, inference only. So each LoRA
layer gets a plain forward for the selected adapter, peft's operations in peft's order
(`base(x) + B(A(x)) * scaling`, the scaling fused into the sum: the same numbers to float
rounding), and the bare base gets the base layer's forward alone.

Anything this path does not reproduce (LoRA variants such as DoRA, a LoRA bias, dropout
that is active, hooks on the base layer) keeps peft's own forward for that layer.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch.nn import functional

Forward = Callable[..., torch.Tensor]
_CACHE = "_mindpilot_lean_forwards"  # per layer: adapter (None: bare) -> forward


def select(layers: Sequence[Any], adapter: str | None) -> None:
    """Point every LoRA layer at `adapter` (None: the bare base): peft's own flags (what its
    forward and its other methods read) and the lean forward that serves it."""
    for layer in layers:
        layer._disable_adapters = adapter is None
        if adapter is not None:
            layer._active_adapter = adapter
        # built once per layer and adapter (a switch then costs dictionary work only)
        cache = layer.__dict__.setdefault(_CACHE, {})
        if adapter not in cache:
            cache[adapter] = lean_forward(layer, adapter)
        lean = cache[adapter]
        if lean is None:
            layer.__dict__.pop("forward", None)  # peft's own forward (the class's)
        else:
            layer.__dict__["forward"] = lean  # an instance attribute: nn.Module calls it


def release(layers: Sequence[Any]) -> None:
    """Give every layer back peft's own forward, and forget the built ones (before peft
    itself changes the layers: a new adapter, a copy)."""
    for layer in layers:
        layer.__dict__.pop("forward", None)
        layer.__dict__.pop(_CACHE, None)


def lean_forward(layer: Any, adapter: str | None) -> Forward | None:
    """The forward of `layer` with `adapter` applied (None: none), or None when only peft's
    own forward can do it."""
    base = layer.base_layer
    if not isinstance(base, torch.nn.Linear) or _hooked(base) or getattr(layer, "merged", False):
        return None
    if adapter is None or adapter not in layer.lora_A:
        return _plain(base)  # peft too skips a layer the adapter does not reach
    if not _vanilla(layer, adapter):
        return None
    a, b = layer.lora_A[adapter], layer.lora_B[adapter]
    return _with_lora(base, a.weight, b.weight, float(layer.scaling[adapter]))


def _vanilla(layer: Any, adapter: str) -> bool:
    """Plain LoRA: no variant, no bias on B, no dropout at work, no hooks on A or B."""
    dropout = layer.lora_dropout[adapter]
    a, b = layer.lora_A[adapter], layer.lora_B[adapter]
    return (
        adapter not in getattr(layer, "lora_variant", {})
        and isinstance(a, torch.nn.Linear)
        and isinstance(b, torch.nn.Linear)
        and a.bias is None
        and b.bias is None
        and (isinstance(dropout, torch.nn.Identity) or not dropout.training)
        and not _hooked(a)
        and not _hooked(b)
    )


def _plain(base: torch.nn.Linear) -> Forward:
    weight, bias = base.weight, base.bias

    def forward(x: torch.Tensor, *args: Any, **kwargs: Any) -> torch.Tensor:
        return functional.linear(x, weight, bias)

    return forward


def _with_lora(base: torch.nn.Linear, a: torch.Tensor, b: torch.Tensor, scaling: float) -> Forward:
    weight, bias = base.weight, base.bias
    if a.dtype == weight.dtype:

        def forward(x: torch.Tensor, *args: Any, **kwargs: Any) -> torch.Tensor:
            result = functional.linear(x, weight, bias)
            return result.add_(functional.linear(functional.linear(x, a), b), alpha=scaling)

        return forward

    # peft keeps half-precision adapters in float32 on a half-precision base: it casts the
    # input up, adds, and casts the sum back to the base's dtype; so does this
    def cast_forward(x: torch.Tensor, *args: Any, **kwargs: Any) -> torch.Tensor:
        result = functional.linear(x, weight, bias)
        lora = functional.linear(functional.linear(x.to(a.dtype), a), b) * scaling
        return (result + lora).to(result.dtype)

    return cast_forward


def _hooked(module: torch.nn.Module) -> bool:
    return bool(
        module._forward_hooks
        or module._forward_pre_hooks
        or getattr(module, "_forward_hooks_with_kwargs", None)
    )
