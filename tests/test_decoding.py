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
