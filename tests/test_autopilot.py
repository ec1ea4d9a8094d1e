"""The Autopilot on a tiny random Llama: loading, freezing, decoding, streaming, errors."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from mindpilot.autopilot import Autopilot, GenerationConfig, Message
from mindpilot.errors import ConfigError, ContextWindowError, ModelLoadError, ModelNotFoundError
from mindpilot.plugins import BACKENDS


def test_every_base_parameter_is_frozen(tiny_autopilot: Autopilot) -> None:
    model = tiny_autopilot.backend.model  # type: ignore[attr-defined]
    assert not model.training
    assert all(not p.requires_grad for p in model.parameters())


def test_generation_leaves_weights_unchanged(tiny_autopilot: Autopilot) -> None:
    model = tiny_autopilot.backend.model  # type: ignore[attr-defined]
    before = {k: v.clone() for k, v in model.state_dict().items()}
    tiny_autopilot.generate("hello", max_new_tokens=5)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_stream_yields_the_same_text_as_generate(tiny_autopilot: Autopilot) -> None:
    full = tiny_autopilot.generate("Tell me a story", max_new_tokens=20)
    stream = tiny_autopilot.stream("Tell me a story", max_new_tokens=20)
    pieces = list(stream)
    assert len(pieces) > 1
    assert "".join(pieces) == full.text
    assert stream.result is not None and stream.result.text == full.text
    assert stream.finish() == stream.result  # finishing twice is harmless


def test_text_matches_a_full_decode_of_the_tokens(tiny_autopilot: Autopilot) -> None:
    result = tiny_autopilot.generate("Bonjour, ça va? 😀", max_new_tokens=24)
    tokenizer = tiny_autopilot.backend.tokenizer  # type: ignore[attr-defined]
    ids = tokenizer(result.text, add_special_tokens=False)["input_ids"]
    assert tokenizer.decode(ids, skip_special_tokens=True) == result.text
    assert result.usage.completion_tokens == 24 and result.finish_reason == "length"


def test_greedy_is_deterministic_and_seeds_repeat(tiny_autopilot: Autopilot) -> None:
    assert (
        tiny_autopilot.generate("abc", max_new_tokens=8).text
        == tiny_autopilot.generate("abc", max_new_tokens=8).text
    )
    sample = dict(max_new_tokens=30, temperature=1.5, top_p=0.95)
    first = tiny_autopilot.generate("abc", seed=1, **sample).text
    assert tiny_autopilot.generate("abc", seed=1, **sample).text == first
    assert tiny_autopilot.generate("abc", seed=2, **sample).text != first


def test_stop_string_cuts_the_output_before_it(tiny_autopilot: Autopilot) -> None:
    free = tiny_autopilot.generate("Write something", max_new_tokens=30).text
    stop = free[len(free) // 2 : len(free) // 2 + 3]
    assert stop.strip(), free
    cut = tiny_autopilot.generate("Write something", max_new_tokens=30, stop=[stop])
    assert cut.text == free[: free.index(stop)]
    assert cut.finish_reason == "stop"


def test_usage_counts_prompt_tokens(tiny_autopilot: Autopilot) -> None:
    messages = [Message("system", "Be brief."), Message("user", "Hi")]
    result = tiny_autopilot.generate(messages, max_new_tokens=3)
    assert result.usage.prompt_tokens == tiny_autopilot.count_tokens(messages)
    assert result.timings.prompt_s > 0 and result.timings.decode_s > 0
    assert result.model == tiny_autopilot.model_name


def test_prompt_longer_than_the_context_window_is_refused(tiny_autopilot: Autopilot) -> None:
    with pytest.raises(ContextWindowError, match="holds 256"):
        tiny_autopilot.generate("word " * 400)


def test_completion_is_clipped_to_the_room_left(tiny_autopilot: Autopilot) -> None:
    prompt = "word " * 200
    room = tiny_autopilot.context_window - tiny_autopilot.count_tokens(prompt)
    result = tiny_autopilot.generate(prompt, max_new_tokens=500)
    assert 0 < result.usage.completion_tokens <= room


@pytest.mark.parametrize(
    "bad",
    [
        {"max_new_tokens": 0},
        {"temperature": -1.0},
        {"top_p": 0.0},
        {"top_p": 1.5},
        {"stop": ("",)},
    ],
)
def test_generation_config_rejects_bad_values(bad: dict[str, object]) -> None:
    with pytest.raises(ConfigError):
        GenerationConfig(**bad)  # type: ignore[arg-type]


def test_empty_prompt_and_bad_role_are_refused(tiny_autopilot: Autopilot) -> None:
    with pytest.raises(ValueError, match="empty"):
        tiny_autopilot.generate("   ")
    with pytest.raises(ValueError, match="role"):
        tiny_autopilot.generate([{"role": "robot", "content": "hi"}])


def test_unknown_model_names_the_fix() -> None:
    with pytest.raises(ModelNotFoundError, match="offline Hugging Face cache") as err:
        Autopilot.load("no-such-org/no-such-model")
    assert err.value.hint and "local folder" in err.value.hint


def test_missing_file_and_corrupt_gguf(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFoundError, match="no model file"):
        Autopilot.load(str(tmp_path / "missing.gguf"))
    corrupt = tmp_path / "broken.gguf"
    corrupt.write_bytes(b"not a gguf at all" * 100)
    with pytest.raises(ModelLoadError, match="cannot read GGUF"):
        Autopilot.load(str(corrupt))
    text = tmp_path / "weights.bin"
    text.write_bytes(b"x")
    with pytest.raises(ModelLoadError, match="not a GGUF"):
        Autopilot.load(str(text))


def test_unknown_backend_lists_the_choices() -> None:
    with pytest.raises(ConfigError, match="openai, transformers"):
        Autopilot.load(backend="nope")
    assert {"openai", "transformers"} <= set(BACKENDS.names())


def test_threads_setting_is_validated(
    tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MINDPILOT_THREADS", "many")
    with pytest.raises(ConfigError, match="MINDPILOT_THREADS"):
        Autopilot.load(str(tiny_model_dir))
    monkeypatch.setenv("MINDPILOT_THREADS", "2")
    assert Autopilot.load(str(tiny_model_dir)).backend.threads == 2  # type: ignore[attr-defined]


def test_mindpilot_model_names_the_default(
    tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mindpilot.autopilot import loading

    monkeypatch.setenv("MINDPILOT_MODEL", str(tiny_model_dir))
    assert loading.resolve(None).folder == tiny_model_dir.resolve()
    assert loading.resolve("default").name == loading.DEFAULT_MODEL  # the bundled one by name
    assert Autopilot.name_of(None) == loading.resolve(str(tiny_model_dir)).name
