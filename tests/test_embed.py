"""Embedders: the hashing one (fast, always) and the bundled all-MiniLM-L6-v2 (slow)."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from mindpilot.errors import ModelNotFoundError, ValidationError
from mindpilot.mental_process import embed as embed_module
from mindpilot.mental_process.embed import (
    Embedder,
    HashingEmbedder,
    MiniLMEmbedder,
    get_embedder,
    minilm_path,
)
from mindpilot.plugins import EMBEDDERS


def _cos(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b)


# ---- the registry and the contract -----------------------------------------------------------
def test_builtins_are_registered() -> None:
    assert {"hashing", "minilm"} <= set(EMBEDDERS.names())


def test_get_embedder_keeps_one_instance_per_name() -> None:
    assert get_embedder("hashing") is get_embedder("hashing")


def test_unknown_embedder_names_the_choices() -> None:
    with pytest.raises(ValueError, match="hashing"):
        get_embedder("no-such-embedder")


# ---- hashing -------------------------------------------------------------------------------
def test_hashing_rows_are_unit_float32_and_deterministic() -> None:
    texts = ["The cat sat on the mat.", "", "!!!", "Ünïcode wörds too"]
    first = HashingEmbedder().embed(texts)
    again = HashingEmbedder().embed(texts)  # a fresh instance: no hidden state, no hash()
    assert first.shape == (4, 384) and first.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(first, axis=1), 1.0, rtol=1e-6)
    np.testing.assert_array_equal(first, again)


def test_hashing_shared_words_score_above_unrelated() -> None:
    a, b, c = HashingEmbedder().embed(
        ["refund policy for damaged items", "damaged items refund", "quarterly revenue grew"]
    )
    assert _cos(a, b) > 0.5 > _cos(a, c)


def test_hashing_is_case_insensitive_and_ignores_punctuation() -> None:
    a, b = HashingEmbedder().embed(["Hello, World!", "hello world"])
    np.testing.assert_allclose(a, b)


def test_empty_batch_has_shape_zero_by_dim() -> None:
    assert HashingEmbedder().embed([]).shape == (0, 384)


def test_a_bare_string_is_refused() -> None:
    with pytest.raises(ValidationError, match="not one string"):
        HashingEmbedder().embed("a sentence")


def test_builtins_satisfy_the_protocol() -> None:
    embedders: list[Embedder] = [HashingEmbedder(), MiniLMEmbedder()]  # MiniLM loads lazily
    assert [e.dim for e in embedders] == [384, 384]


# ---- MiniLM --------------------------------------------------------------------------------
def test_missing_model_package_points_to_setup(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ModelNotFoundError, match=r"setup\.sh"):
        MiniLMEmbedder().embed(["x", "y"])


@pytest.fixture(scope="module")
def minilm() -> MiniLMEmbedder:
    return MiniLMEmbedder()


@pytest.mark.slow
def test_minilm_paraphrase_is_closer_than_unrelated(minilm: MiniLMEmbedder) -> None:
    a, b, c = minilm.embed(
        [
            "How do I get my money back for a broken product?",
            "I want a refund because the item arrived damaged.",
            "The orchestra played Beethoven's ninth symphony.",
        ]
    )
    assert _cos(a, b) > _cos(a, c) + 0.3


@pytest.mark.slow
def test_minilm_matches_sentence_transformers(minilm: MiniLMEmbedder) -> None:
    sentence_transformers = pytest.importorskip("sentence_transformers")
    texts = ["short", "A somewhat longer sentence about databases.", "", "word " * 400]
    reference = sentence_transformers.SentenceTransformer(str(minilm_path()), device="cpu")
    expected = reference.encode(texts, normalize_embeddings=True)
    np.testing.assert_allclose(minilm.embed(texts), expected, atol=1e-5)


@pytest.mark.slow
def test_minilm_batches_keep_input_order(minilm: MiniLMEmbedder) -> None:
    # Sorting by length inside embed() must not reorder the output.
    texts = [f"sentence {i} " + "padding " * (i % 7) for i in range(150)]
    batched = minilm.embed(texts)
    singles = np.vstack([minilm.embed([t]) for t in texts[::37]])
    assert batched.shape == (150, 384)
    np.testing.assert_allclose(batched[::37], singles, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(batched, axis=1), 1.0, rtol=1e-5)


@pytest.mark.slow
def test_minilm_caches_single_queries(minilm: MiniLMEmbedder) -> None:
    first = minilm.embed(["what is the return policy?"])
    first[0, 0] = 42.0  # the caller's copy: the cache must not change
    second = minilm.embed(["what is the return policy?"])
    assert second[0, 0] != 42.0
    assert "what is the return policy?" in minilm._query_cache


def test_minilm_query_cache_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    embedder = MiniLMEmbedder(query_cache_size=2)
    fake = HashingEmbedder()
    monkeypatch.setattr(embedder, "_embed_batches", fake.embed)
    for text in ["a", "b", "a", "c"]:
        embedder.embed([text])
    assert list(embedder._query_cache) == ["a", "c"]  # "b" was least recently used


def test_module_does_not_import_torch_eagerly() -> None:
    # Importing the embed module must stay cheap: torch and transformers load on first embed.
    source = importlib.util.find_spec(embed_module.__name__)
    assert source is not None and source.origin is not None
    with open(source.origin, encoding="utf-8") as handle:
        top_level = [line for line in handle if line.startswith(("import ", "from "))]
    assert not any("torch" in line or "transformers" in line for line in top_level)
