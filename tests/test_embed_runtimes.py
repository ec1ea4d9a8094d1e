"""The `minilm` embedder's two runtimes: ONNX Runtime (default) and torch (the reference and
the fallback). Quality guard: the ONNX vectors match torch's (cosine >= 0.999 on a sample,
the same nearest neighbours); int8 variants were measured at 0.93 and rejected on this bar."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from mindpilot.config import embed_runtime, embed_threads
from mindpilot.errors import ConfigError, ModelLoadError, ValidationError
from mindpilot.mental_process.embed import MiniLMEmbedder


def test_unknown_runtime_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValidationError, match="runtime"):
        MiniLMEmbedder(runtime="tensorrt")
    monkeypatch.setenv("MINDPILOT_EMBED_RUNTIME", "gpu")
    with pytest.raises(ConfigError, match="MINDPILOT_EMBED_RUNTIME"):
        embed_runtime()
    monkeypatch.setenv("MINDPILOT_EMBED_THREADS", "0")
    with pytest.raises(ConfigError, match="MINDPILOT_EMBED_THREADS"):
        embed_threads()


def test_without_onnxruntime_auto_falls_back_to_torch_and_says_why(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # `import onnxruntime` fails
    with pytest.raises(ModelLoadError, match="ONNX Runtime") as err:
        MiniLMEmbedder(runtime="onnx").embed(["a", "b"])
    assert "onnxruntime" in (err.value.hint or "")
    embedder = MiniLMEmbedder()  # auto
    with pytest.warns(RuntimeWarning, match="runs on torch.*onnxruntime"):
        vectors = embedder.embed(["a refund for a broken kettle", "b"])
    assert embedder.runtime == "torch"
    assert embedder.fallback_reason is not None and "onnxruntime" in embedder.fallback_reason
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-5)


def test_the_onnx_module_imports_no_heavy_package_at_top_level() -> None:
    from mindpilot.mental_process import minilm_onnx

    source = Path(minilm_onnx.__file__).read_text(encoding="utf-8").splitlines()
    top_level = [line for line in source if line.startswith(("import ", "from "))]
    assert not any(name in line for line in top_level for name in ("torch", "transformers", "onnx"))


@pytest.mark.slow
def test_onnx_vectors_match_torch_and_keep_the_neighbours() -> None:
    """The quality guard: sentences of mixed lengths (so batches pad), a truncated text, and
    single queries; cosine >= 0.999 each, and the same top 10 for every query."""
    from mindpilot.bench.datasets import vader_movie_reviews
    from mindpilot.bench.search_speed import sentences

    texts = list(dict.fromkeys(t.text for t in vader_movie_reviews(min_strength=0.0)))[:400]
    texts += ["", "word " * 400]
    queries = sentences(40, seed=2)
    onnx, torch = MiniLMEmbedder(runtime="onnx"), MiniLMEmbedder(runtime="torch")
    docs = {name: e.embed(texts) for name, e in (("onnx", onnx), ("torch", torch))}
    singles = {
        name: np.vstack([e.embed([q]) for q in queries])
        for name, e in (("onnx", onnx), ("torch", torch))
    }
    assert onnx.runtime == "onnx" and torch.runtime == "torch"
    assert np.min(np.sum(docs["onnx"] * docs["torch"], axis=1)) >= 0.999
    assert np.min(np.sum(singles["onnx"] * singles["torch"], axis=1)) >= 0.999
    top = {n: np.argsort(-(singles[n] @ docs[n].T), axis=1)[:, :10] for n in docs}
    overlap = [len(set(a) & set(b)) / 10 for a, b in zip(top["onnx"], top["torch"], strict=True)]
    assert np.mean(overlap) >= 0.99  # recall@10 of the ONNX ranking against torch's


@pytest.mark.slow
def test_the_export_is_cached_and_written_whole(tmp_path: Path) -> None:
    from mindpilot.config import cache_dir

    MiniLMEmbedder(runtime="onnx").embed(["load", "it"])
    folder = cache_dir() / "embedders"
    (exported,) = folder.glob("*.onnx")
    stamp = exported.stat().st_mtime_ns
    MiniLMEmbedder(runtime="onnx").embed(["again", "please"])
    assert exported.stat().st_mtime_ns == stamp  # loaded, not exported again
    assert [p.name for p in folder.iterdir()] == [exported.name]  # no half-written leftovers
