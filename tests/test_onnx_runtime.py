"""The local backend's `onnx` runtimes (autopilot/onnx_decoder.py), on the tiny random model:
built once by ONNX Runtime GenAI's real builder and cached; at fp32 the same tokens as torch;
a damaged build rebuilt with a message; requests that need torch's model decode in torch."""

from __future__ import annotations

from pathlib import Path

import pytest

from mindpilot.autopilot import Autopilot
from mindpilot.autopilot.onnx_decoder import OnnxPass
from mindpilot.autopilot.transformers_backend import TransformersBackend
from mindpilot.errors import ConfigError
from mindpilot.types import GenerationConfig, Message
from tests.test_lean_lora import ALL, saved_adapter

PROMPTS = ["Hello there, how are you?", "Name three colours and say why you like them."]


@pytest.fixture(scope="module")
def onnx_backend(tiny_model_dir: Path, session_cache: Path) -> TransformersBackend:
    """Built into the run's model cache (where every test's MINDPILOT_CACHE points), once."""
    with pytest.MonkeyPatch.context() as env:
        env.setenv("MINDPILOT_CACHE", str(session_cache))
        return TransformersBackend.load(str(tiny_model_dir), threads=1, runtime="onnx-fp32")


def test_fp32_gives_torch_s_greedy_tokens(
    onnx_backend: TransformersBackend, tiny_autopilot: Autopilot
) -> None:
    onnx = Autopilot(onnx_backend)
    for prompt in PROMPTS:
        ours = onnx.generate(prompt, max_new_tokens=40)
        assert isinstance(onnx_backend.last_passes, OnnxPass)
        assert ours.text == tiny_autopilot.generate(prompt, max_new_tokens=40).text
        assert ours.usage.completion_tokens == 40
    # streaming and stop strings run the same loop: the pieces add up to the cut text
    stream = onnx.stream(PROMPTS[0], max_new_tokens=40, stop=["s"])
    pieces = list(stream)
    assert "".join(pieces) == stream.result.text
    assert stream.result.text == tiny_autopilot.generate(PROMPTS[0], max_new_tokens=40,
                                                         stop=["s"]).text  # fmt: skip


def test_the_build_is_cached_and_reused(
    tiny_model_dir: Path, onnx_backend: TransformersBackend, capfd: pytest.CaptureFixture[str]
) -> None:
    assert onnx_backend.onnx is not None
    build = onnx_backend.onnx.build
    assert build.parent.parent.name != "" and (build / "model.onnx").is_file()
    stamp = (build / "model.onnx").stat().st_mtime_ns
    again = TransformersBackend.load(str(tiny_model_dir), threads=1, runtime="onnx-fp32")
    assert again.onnx is not None and again.onnx.build == build
    assert (build / "model.onnx").stat().st_mtime_ns == stamp
    assert "Building" not in capfd.readouterr().err
    # no half-made builds are left beside it
    assert not [p for p in build.parent.iterdir() if p.name.startswith(".building-")]


def test_a_damaged_build_is_rebuilt_with_a_message(
    tiny_model_dir: Path,
    onnx_backend: TransformersBackend,
    tiny_autopilot: Autopilot,
    capfd: pytest.CaptureFixture[str],
) -> None:
    assert onnx_backend.onnx is not None
    (onnx_backend.onnx.build / "model.onnx").write_bytes(b"not an onnx graph")
    rebuilt = TransformersBackend.load(str(tiny_model_dir), threads=1, runtime="onnx-fp32")
    err = capfd.readouterr().err
    assert "does not load" in err and "building it again" in err
    text = Autopilot(rebuilt).generate(PROMPTS[0], max_new_tokens=20).text
    assert text == tiny_autopilot.generate(PROMPTS[0], max_new_tokens=20).text


def test_requests_that_need_torch_decode_in_torch(
    onnx_backend: TransformersBackend, tiny_autopilot: Autopilot, tmp_path: Path
) -> None:
    torch_backend = tiny_autopilot.backend
    assert isinstance(torch_backend, TransformersBackend)
    # a task adapter: the LoRA layers live on torch's model
    folder = saved_adapter(onnx_backend, tmp_path / "lora", 3, r=4, lora_alpha=8,
                           target_modules=ALL)  # fmt: skip
    onnx_backend.load_adapter("lora", folder)
    config = GenerationConfig(max_new_tokens=12, adapter="lora")
    adapted = onnx_backend.generate([Message("user", PROMPTS[0])], config)
    assert not isinstance(onnx_backend.last_passes, OnnxPass)
    plain = onnx_backend.generate(
        [Message("user", PROMPTS[0])], GenerationConfig(max_new_tokens=12)
    )
    assert isinstance(onnx_backend.last_passes, OnnxPass)
    assert adapted.text != plain.text
    # context-aware decoding: the batched pair of readings
    messages = [Message("user", f"Reference: the sky is green. {PROMPTS[0]}")]
    faithful = GenerationConfig(max_new_tokens=8, faithfulness=0.5)
    onnx_backend.stream_with_hook(messages, faithful, None, [Message("user", PROMPTS[0])]).finish()
    assert not isinstance(onnx_backend.last_passes, OnnxPass)
    # steering: the hook sits on torch's layers (the routing alone; no vector computed here)
    steered = GenerationConfig(steering="tone", steering_strength=2.0)
    assert not isinstance(onnx_backend._passes(None, steered), OnnxPass)


def test_an_unknown_runtime_is_refused(
    tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MINDPILOT_RUNTIME", "tensorrt")
    with pytest.raises(ConfigError, match="torch, onnx, onnx-fp32"):
        TransformersBackend.load(str(tiny_model_dir), threads=1)


def test_the_cli_flag_picks_the_runtime(
    onnx_backend: TransformersBackend, tiny_model_dir: Path, session_cache: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    """`--runtime` reaches the backend (the module's cached build: no second build); fp32
    gives torch's greedy text; a remote backend refuses it in one line."""
    from click.testing import CliRunner

    from mindpilot.cli import cli

    monkeypatch.setenv("MINDPILOT_CACHE", str(session_cache))
    monkeypatch.setenv("MINDPILOT_RUNTIME", "tensorrt")  # the flag wins over the setting
    ask = ["generate", PROMPTS[1], "--model", str(tiny_model_dir), "--max-tokens", "8"]
    texts = {}
    for runtime in ("torch", "onnx-fp32"):
        result = CliRunner().invoke(cli, [*ask, "--runtime", runtime])
        assert result.exit_code == 0, result.output
        texts[runtime] = result.stdout
    assert texts["onnx-fp32"] == texts["torch"] and texts["torch"].strip()
    remote = CliRunner().invoke(
        cli, ["generate", "hi", "--backend", "openai", "--base-url", "http://127.0.0.1:9",
              "--runtime", "onnx"],
    )  # fmt: skip
    assert remote.exit_code == 1 and "--runtime applies to the local backend" in remote.stderr
    assert "Traceback" not in remote.output
