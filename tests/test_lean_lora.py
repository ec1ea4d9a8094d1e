"""The lean LoRA serving path (autopilot/lean_lora.py) computes what peft's own forward
computes: the same logits with each adapter (to float rounding), the bare base's exact logits
with none, and peft's forward where it cannot (a LoRA variant: DoRA)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from mindpilot.autopilot import lean_lora
from mindpilot.autopilot.transformers_backend import (
    TransformersBackend,
    base_weights_hash,
    peft_quietly,
)

ALL = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
IDS = [[1, 422, 1233, 30, 2041, 17, 890, 3021, 45, 9]]


def saved_adapter(backend: TransformersBackend, folder: Path, seed: int, **lora: Any) -> Path:
    """A LoRA adapter with random (non-zero) B matrices, saved as peft saves it."""
    from peft import LoraConfig, get_peft_model

    torch.manual_seed(seed)
    with peft_quietly():
        model = get_peft_model(backend.base_copy(), LoraConfig(task_type="CAUSAL_LM", **lora))
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if "lora_B" in name:
                parameter.normal_(0, 0.5)
    model.save_pretrained(str(folder))
    return folder


def logits(backend: TransformersBackend, adapter: str | None, *, lean: bool) -> torch.Tensor:
    backend._selected = "\0"  # select anew
    with backend._applied(adapter), torch.inference_mode():
        if not lean:
            lean_lora.release(backend._lora_layers)  # peft's own forward, peft's flags
        out = backend.model(input_ids=torch.tensor(IDS)).logits
    backend._selected = "\0"
    return out


@pytest.fixture
def backend(tiny_model_dir: Path, tmp_path: Path) -> TransformersBackend:
    backend = TransformersBackend.load(str(tiny_model_dir), threads=1)
    every = saved_adapter(backend, tmp_path / "every", 1, r=4, lora_alpha=8, target_modules=ALL)
    attention = saved_adapter(backend, tmp_path / "q", 2, r=8, lora_alpha=32,
                              target_modules=["q_proj", "v_proj"])  # fmt: skip
    backend.load_adapter("every", every)
    backend.load_adapter("attention", attention)
    return backend


def test_the_lean_path_gives_peft_s_logits_for_each_adapter(backend: TransformersBackend) -> None:
    bare = logits(backend, None, lean=False)
    for adapter in ("every", "attention", "every"):
        lean, peft = logits(backend, adapter, lean=True), logits(backend, adapter, lean=False)
        assert not torch.allclose(peft, bare, atol=1e-3)  # the adapter does change them
        assert torch.allclose(lean, peft, atol=1e-5, rtol=0)


def test_no_adapter_is_the_bare_base_exactly(
    tiny_model_dir: Path, backend: TransformersBackend
) -> None:
    from transformers import AutoModelForCausalLM

    plain = AutoModelForCausalLM.from_pretrained(str(tiny_model_dir)).eval()
    with torch.inference_mode():
        expected = plain(input_ids=torch.tensor(IDS)).logits
    logits(backend, "every", lean=True)  # an adapter selected before
    assert torch.equal(logits(backend, None, lean=True), expected)
    assert base_weights_hash(backend.base) == base_weights_hash(plain)


def test_a_layer_the_path_cannot_serve_keeps_peft_s_forward(
    tiny_model_dir: Path, tmp_path: Path
) -> None:
    backend = TransformersBackend.load(str(tiny_model_dir), threads=1)
    folder = saved_adapter(backend, tmp_path / "dora", 3, r=4, lora_alpha=8,
                           target_modules=["q_proj"], use_dora=True)  # fmt: skip
    backend.load_adapter("dora", folder)
    with backend._applied("dora"):
        assert all("forward" not in layer.__dict__ for layer in backend._lora_layers)
    lean, peft = logits(backend, "dora", lean=True), logits(backend, "dora", lean=False)
    assert torch.equal(lean, peft)


def test_training_copies_the_bare_base_while_an_adapter_is_selected(
    backend: TransformersBackend,
) -> None:
    with backend._applied("every"):
        pass
    copy = backend.base_copy()
    assert not any("lora_" in name for name, _ in copy.named_parameters())
    with torch.inference_mode():
        copied = copy(input_ids=torch.tensor(IDS)).logits
    assert torch.equal(copied, logits(backend, None, lean=True))
