"""Shared fixtures. Every test gets its own MINDPILOT_HOME; converted models are shared per session.

Tests never touch the network: HF_HUB_OFFLINE is forced here as well as in scripts/test.sh.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"


@pytest.fixture(scope="session")
def session_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One converted-model cache for the whole run: the default model converts once (~35 s)."""
    return tmp_path_factory.mktemp("model-cache")


@pytest.fixture(autouse=True)
def isolated_home(
    tmp_path: Path, session_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Path]:
    home = tmp_path / "mindpilot-home"
    monkeypatch.setenv("MINDPILOT_HOME", str(home))
    monkeypatch.setenv("MINDPILOT_CACHE", str(session_cache))
    monkeypatch.delenv("MINDPILOT_THREADS", raising=False)
    yield home


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random Llama with SmolLM2's real tokenizer and chat template: fast plumbing tests."""
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    from mindpilot.autopilot import loading

    source = loading.resolve(None)
    tokenizer = AutoTokenizer.from_pretrained(source.folder, gguf_file=source.gguf)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=256,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.eos_token_id,
        tie_word_embeddings=True,
        initializer_range=0.5,  # peaky logits: varied text instead of one repeated token
    )
    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("tiny-llama")
    LlamaForCausalLM(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def tiny_autopilot(tiny_model_dir: Path):  # type: ignore[no-untyped-def]
    from mindpilot.autopilot import Autopilot

    return Autopilot.load(str(tiny_model_dir))


@pytest.fixture(scope="session")
def default_autopilot(session_cache: Path):  # type: ignore[no-untyped-def]
    """The real bundled model. This fixture is the only first loader of the real model, so its
    `load_seconds` includes the one-time GGUF conversion (test_default_model compares with it)."""
    os.environ["MINDPILOT_CACHE"] = str(session_cache)
    from mindpilot.autopilot import Autopilot, loading

    assert not loading.cached_models(), "load the real model through this fixture only"
    return Autopilot.load()


# The Mental Process's fixtures (store_factory, store, minilm, hashing_env).
pytest_plugins = ["tests.mp_fixtures"]  # tests/ is a package (tests.live_server etc.)
