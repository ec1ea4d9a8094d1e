"""Prompt-lookup decoding (lookahead.py) gives what one token per pass gives, on the tiny model;
and the `--device` choice (devices.py) on a machine without CUDA."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import torch
from click.testing import CliRunner

from mindpilot.autopilot import Autopilot, Generation, GenerationConfig, Message, lookahead
from mindpilot.autopilot.contrast import SinglePass
from mindpilot.autopilot.devices import resolve_device, weights_dtype
from mindpilot.autopilot.lookahead import LookaheadPass, propose
from mindpilot.cli import cli
from mindpilot.errors import ConfigError
from tests.test_while_decoding import SwitchAt

PROMPT = [Message("user", "Repeat after me: the red fox jumps over the lazy dog, the red fox.")]


def test_propose_continues_the_latest_longest_match() -> None:
    assert propose([1, 2, 3, 9, 1, 2, 3], guess=2) == [9, 1]
    assert propose([5, 6, 7, 5, 6, 8, 5, 6], guess=3) == [8, 5, 6]  # the nearer match
    assert propose([1, 2, 3, 4], guess=3) == []  # nothing repeats
    assert propose([4, 1, 2, 7, 1, 2], guess=0) == []


def test_logits_equal_single_passes_through_hits_and_misses(tiny_autopilot: Autopilot) -> None:
    backend = tiny_autopilot.backend
    prompt = backend.prompt_ids(PROMPT)  # type: ignore[attr-defined]
    # fed tokens: copy 12 prompt tokens (guesses confirmed), then 3 of our own (guesses cut)
    forced = [*prompt[5:17], 11, 12, 13, *prompt[5:12]]
    ahead, single = LookaheadPass(backend.model, limit=256), SinglePass(backend.model)  # type: ignore[attr-defined]
    with torch.inference_mode():
        pairs = [(ahead.read(prompt, []), single.read(prompt, []))]
        pairs += [(ahead.step(t), single.step(t)) for t in forced]
    for fast, plain in pairs:
        torch.testing.assert_close(
            fast.decode, plain.decode, atol=1e-3, rtol=1e-3
        )  # matrix vs vector sums
    assert ahead.confirmed > 5 and ahead.guessed > ahead.confirmed  # both paths taken
    assert ahead.passes + ahead.confirmed == len(forced)


@pytest.fixture()
def switchable(tiny_autopilot: Autopilot) -> Iterator[Autopilot]:
    yield tiny_autopilot
    tiny_autopilot.backend.lookahead = True  # type: ignore[attr-defined]


def oracle(answer: list[int], prompt_len: int) -> Callable[[list[int], int], list[int]]:
    """A `propose` that knows the answer (a random model never repeats itself, so real guesses
    would not be tested): right guesses, and every third one wrong from its second token."""
    calls = itertools.count()

    def propose(history: list[int], guess: int) -> list[int]:
        done = len(history) - prompt_len
        right = answer[done : done + guess]
        if next(calls) % 3 == 2 and len(right) > 1:
            return [right[0], right[1] + 1, *right[2:]]
        return right

    return propose


def decode(autopilot: Autopilot, config: GenerationConfig) -> tuple[list[str], Generation]:
    stream = autopilot.stream(PROMPT, config)
    pieces = list(stream)
    return pieces, stream.finish()


@pytest.mark.parametrize(
    "config",
    [
        GenerationConfig(max_new_tokens=40),
        GenerationConfig(max_new_tokens=40, temperature=0.9, top_p=0.9, seed=3),
        GenerationConfig(max_new_tokens=30, repetition_penalty=1.3, logprobs=2),
        GenerationConfig(max_new_tokens=12, json_schema=json.dumps({"type": "object"})),
        GenerationConfig(max_new_tokens=40, stop=("ology",)),
    ],
    ids=["greedy", "sampled", "penalty-logprobs", "json", "stop"],
)
def test_generation_is_the_same_with_and_without(
    switchable: Autopilot, config: GenerationConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    backend: Any = switchable.backend
    backend.lookahead = False
    plain_pieces, plain = decode(switchable, config)
    backend.lookahead = True
    monkeypatch.setattr(lookahead, "propose", lambda history, guess: [])
    decode(switchable, config)  # one token per pass: the answer's ids, for the oracle
    history, prompt_len = backend.last_passes.history, len(backend.prompt_ids(PROMPT))
    monkeypatch.setattr(lookahead, "propose", oracle(history[prompt_len:], prompt_len))
    fast_pieces, fast = decode(switchable, config)
    passes = backend.last_passes
    assert fast_pieces == plain_pieces and fast.text == plain.text
    assert (fast.usage, fast.finish_reason) == (plain.usage, plain.finish_reason)
    for a, b in zip(fast.logprobs, plain.logprobs, strict=True):
        assert a.token == b.token and a.logprob == pytest.approx(b.logprob, abs=1e-3)
    if plain.usage.completion_tokens > 4:  # guesses were made, taken and refused
        assert passes.guessed > passes.confirmed > 0


def test_a_prompt_switch_mid_answer_is_the_same(switchable: Autopilot) -> None:
    backend = switchable.backend
    wider = [Message("system", "Answer briefly."), *PROMPT]
    texts = []
    for on in (False, True):
        backend.lookahead = on  # type: ignore[attr-defined]
        hook = SwitchAt(4, wider)
        texts.append(backend.stream_with_hook(PROMPT, GenerationConfig(30), hook).finish().text)  # type: ignore[attr-defined]
        assert hook.accepts == 1
    assert texts[0] == texts[1]


def test_device_choice_on_a_machine_without_cuda(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto") == torch.device("cpu") == resolve_device("CPU")
    assert weights_dtype(torch.device("cpu")) == torch.float32
    with pytest.raises(ConfigError, match="sees no CUDA device"):
        resolve_device("cuda")
    with pytest.raises(ConfigError, match="unknown device 'tpu'"):
        resolve_device("tpu")


def test_a_cuda_request_without_cuda_is_one_line(
    tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    args = ["generate", "hi", "--local", "--model", str(tiny_model_dir), "--device", "cuda"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 1, result.output
    assert "sees no CUDA device" in result.stderr and "Traceback" not in result.output
    monkeypatch.setenv("MINDPILOT_DEVICE", "cuda")  # the setting, through the Python API
    with pytest.raises(ConfigError, match="sees no CUDA device"):
        Autopilot.load(str(tiny_model_dir))
    loaded = Autopilot.load(str(tiny_model_dir), device="cpu")  # an argument beats the setting
    assert loaded.backend.device == torch.device("cpu")  # type: ignore[attr-defined]
