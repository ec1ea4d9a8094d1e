"""Decoding helpers: stop strings and incremental detokenisation."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mindpilot.autopilot.decoding import IncrementalDecoder, StopMatcher


def feed(stops: tuple[str, ...], pieces: list[str]) -> tuple[str, bool]:
    matcher, out = StopMatcher(stops), []
    for piece in pieces:
        text, hit = matcher.push(piece)
        out.append(text)
        if hit:
            return "".join(out), True
    return "".join(out) + matcher.flush(), False


def test_stop_split_across_pieces_is_never_emitted() -> None:
    assert feed(("END",), ["abc E", "N", "D more"]) == ("abc ", True)


def test_false_start_of_a_stop_is_released() -> None:
    assert feed(("END",), ["abc EN", "d"]) == ("abc ENd", False)
    assert feed(("END",), ["abc EN"]) == ("abc EN", False)


def test_earliest_of_several_stops_wins() -> None:
    assert feed(("zz", "b"), ["aazzb"]) == ("aa", True)


@given(
    st.text(max_size=40), st.lists(st.integers(0, 40), max_size=5), st.text(min_size=1, max_size=4)
)
def test_stop_matcher_equals_cutting_the_whole_text(text: str, cuts: list[int], stop: str) -> None:
    bounds = sorted({0, len(text), *[min(c, len(text)) for c in cuts]})
    pieces = [text[a:b] for a, b in itertools.pairwise(bounds)]
    expected = text[: text.index(stop)] if stop in text else text
    assert feed((stop,), pieces)[0] == expected


@pytest.mark.parametrize(
    "text",
    ["Hello, world!", "Ça coûte 5 €, naïve café", "emoji 😀🚀 and 中文字符", "  spaces\n\nlines"],
)
def test_incremental_decoding_equals_full_decoding(tiny_model_dir: Path, text: str) -> None:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    decoder = IncrementalDecoder(tokenizer)
    pieces = [decoder.push(i) for i in ids]
    assert "".join(pieces) == tokenizer.decode(ids, clean_up_tokenization_spaces=False)
    assert all("\ufffd" not in p for p in pieces)


# ---- sampling controls: top-k and the penalties on the answer's own tokens -----------------
def test_penalties_follow_their_definitions() -> None:
    import torch

    from mindpilot.autopilot.decoding import penalise
    from mindpilot.types import GenerationConfig

    logits = torch.tensor([2.0, -2.0, 1.0, 0.5])
    answer = [0, 1, 0]  # token 0 twice, token 1 once, tokens 2 and 3 never
    repeated = penalise(logits, answer, GenerationConfig(repetition_penalty=2.0))
    assert repeated.tolist() == [1.0, -4.0, 1.0, 0.5]  # positive divided, negative multiplied
    openai = penalise(
        logits, answer, GenerationConfig(presence_penalty=0.5, frequency_penalty=0.25)
    )
    assert openai.tolist() == [2.0 - 0.5 - 0.5, -2.0 - 0.5 - 0.25, 1.0, 0.5]
    assert logits.tolist() == [2.0, -2.0, 1.0, 0.5]  # the caller's logits are left alone


def test_top_k_samples_only_the_likeliest() -> None:
    import torch

    from mindpilot.autopilot.decoding import choose_token
    from mindpilot.types import GenerationConfig

    logits = torch.tensor([3.0, 2.9, 2.8, -1.0, -1.0, -1.0])
    config = GenerationConfig(temperature=5.0, top_k=2)
    generator = torch.Generator().manual_seed(0)
    drawn = {choose_token(logits, config, generator) for _ in range(300)}
    assert drawn == {0, 1}  # a high temperature alone reaches every token


def test_repetition_penalty_breaks_a_greedy_loop(tiny_autopilot: object) -> None:
    from collections import Counter

    from mindpilot.autopilot import Autopilot

    assert isinstance(tiny_autopilot, Autopilot)
    tokenizer = tiny_autopilot.backend.tokenizer  # type: ignore[attr-defined]

    def most_repeated(**options: float) -> int:
        text = tiny_autopilot.generate("Tell me a story", max_new_tokens=60, **options).text
        return max(Counter(tokenizer(text, add_special_tokens=False)["input_ids"]).values())

    plain, penalised = most_repeated(), most_repeated(repetition_penalty=1.5, frequency_penalty=1.0)
    assert penalised < plain
