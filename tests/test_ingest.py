"""Reading documents and cutting them into chunks."""

from __future__ import annotations

import re
from itertools import pairwise
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mindpilot.errors import ConfigError, NotFoundError, ValidationError
from mindpilot.mental_process.ingest import (
    chunk_text,
    estimate_tokens,
    read_documents,
    split_text,
)


# ---- read_documents --------------------------------------------------------------------------
def test_reads_one_file(tmp_path: Path) -> None:
    (tmp_path / "faq.md").write_text("\ufeff# FAQ\nAnswers.", encoding="utf-8")
    assert read_documents(tmp_path / "faq.md") == [(str(tmp_path / "faq.md"), "# FAQ\nAnswers.")]


def test_reads_a_folder_recursively_sorted_skipping_hidden_and_other_files(
    tmp_path: Path,
) -> None:
    for name in ["b.txt", "a.MD", "sub/c.markdown", "sub/.draft.md", ".git/x.md", "img.png"]:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(f"text of {name}", encoding="utf-8")
    (tmp_path / "empty.txt").write_text("  \n", encoding="utf-8")  # skipped: others remain
    sources = [source for source, _ in read_documents(tmp_path)]
    assert sources == [str(tmp_path / n) for n in ["a.MD", "b.txt", "sub/c.markdown"]]


def test_every_non_utf8_file_is_named_before_anything_is_returned(tmp_path: Path) -> None:
    (tmp_path / "good.txt").write_text("fine", encoding="utf-8")
    (tmp_path / "bad1.txt").write_bytes("caf\xe9".encode("latin-1"))
    (tmp_path / "bad2.md").write_bytes(b"\xff\xfe")
    with pytest.raises(ValidationError, match=r"bad1\.txt.*bad2\.md") as caught:
        read_documents(tmp_path)
    assert caught.value.hint is not None and "UTF-8" in caught.value.hint


def test_missing_path(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError):
        read_documents(tmp_path / "nope")


def test_unsupported_file(tmp_path: Path) -> None:
    (tmp_path / "data.pdf").write_bytes(b"%PDF")
    with pytest.raises(ValidationError, match=r"\.pdf"):
        read_documents(tmp_path / "data.pdf")


@pytest.mark.parametrize("what", ["empty folder", "folder of other files", "empty file"])
def test_nothing_to_read(tmp_path: Path, what: str) -> None:
    target = tmp_path
    if what == "folder of other files":
        (tmp_path / "x.csv").write_text("a,b", encoding="utf-8")
    if what == "empty file":
        target = tmp_path / "empty.md"
        target.write_text("\n\n", encoding="utf-8")
    with pytest.raises(ValidationError):
        read_documents(target)


# ---- token estimate ------------------------------------------------------------------------
def test_only_regular_files_inside_the_folder_are_read(tmp_path: Path) -> None:
    """A FIFO would block the read for ever; a link may lead out of the folder."""
    import os

    folder, outside = tmp_path / "docs", tmp_path / "secret.md"
    folder.mkdir()
    (folder / "a.md").write_text("inside")
    outside.write_text("outside the folder")
    os.mkfifo(folder / "pipe.md")
    (folder / "leak.md").symlink_to(outside)
    (folder / "alias.md").symlink_to(folder / "a.md")  # a link within the folder is fine
    assert [t for _, t in read_documents(folder)] == ["inside", "inside"]
    followed = read_documents(folder, follow_links=True)
    assert sorted(t for _, t in followed) == ["inside", "inside", "outside the folder"]
    with pytest.raises(ValidationError, match="not a regular file"):
        read_documents(folder / "pipe.md")


def test_files_over_the_size_limit_are_named(tmp_path: Path) -> None:
    (tmp_path / "big.md").write_text("word " * 300_000)  # 1.5 MB
    (tmp_path / "small.md").write_text("fine")
    with pytest.raises(ValidationError, match=r"over 1 MB: .*big\.md \(1\.5 MB\)") as refused:
        read_documents(tmp_path, max_file_mb=1)
    assert "small" not in str(refused.value) and "--max-file-mb" in (refused.value.hint or "")
    assert len(read_documents(tmp_path, max_file_mb=2)) == 2


def test_token_estimate_counts_word_pieces() -> None:
    assert estimate_tokens("") == 0
    assert estimate_tokens("the cat sat") == 3
    assert estimate_tokens("Hello, world!") == 4  # Hello , world !
    assert estimate_tokens("internationalization") == 3  # 1 + 20 // 8
    assert estimate_tokens("日本語") == 3
    assert estimate_tokens("a b") == estimate_tokens("a") + estimate_tokens("b")


# ---- chunking ------------------------------------------------------------------------------
def test_short_text_is_one_chunk_and_blank_text_none() -> None:
    assert chunk_text("  One short paragraph.\n") == ["One short paragraph."]
    assert chunk_text(" \n\t ") == []


@pytest.mark.parametrize(("max_tokens", "overlap"), [(15, 0), (100, 50), (100, -1), (20.5, 2)])
def test_bad_settings_are_refused(max_tokens: int, overlap: int) -> None:
    with pytest.raises(ConfigError):
        chunk_text("text", max_tokens=max_tokens, overlap=overlap)


def test_paragraphs_are_packed_and_never_split_when_they_fit() -> None:
    paragraphs = [f"Paragraph {i} has exactly some words in it." for i in range(30)]
    chunks = chunk_text("\n\n".join(paragraphs), max_tokens=40, overlap=0)
    assert len(chunks) > 1
    for chunk in chunks:
        assert all(p in paragraphs for p in chunk.split("\n\n"))


def test_long_paragraph_is_cut_between_sentences_with_overlap() -> None:
    sentences = [f"Fact number {i} is about the weather." for i in range(40)]
    chunks = chunk_text(" ".join(sentences), max_tokens=50, overlap=12)
    for chunk in chunks:
        assert re.fullmatch(r"(Fact number \d+ is about the weather\. ?)+", chunk)
    for before, after in pairwise(chunks):
        assert after.split(". ")[0] + "." in before  # the next one starts with an old sentence


def test_markdown_headings_lead_their_chunks() -> None:
    body = " ".join(f"Step {i} of the install is simple." for i in range(30))
    doc = f"# Guide\n\nIntro.\n\n## Install\n\n{body}\n\n## Usage\n### Basics\n\nUse it.\n"
    chunks = split_text(doc, max_tokens=48, overlap=8)
    assert chunks[0].text == "# Guide\n\nIntro."
    assert chunks[1].text.startswith("Guide\n\n## Install\n\nStep 0")
    assert all(c.text.startswith("Guide > Install\n\nStep") for c in chunks[2:-1])
    # an empty section's heading line stays with the next section's first chunk
    assert chunks[-1].text == "Guide\n\n## Usage\n### Basics\n\nUse it."
    assert all(doc[c.start : c.end] in c.text for c in chunks)


def test_headings_in_code_fences_are_code() -> None:
    doc = "Intro.\n\n```\n# not a heading\n```\n\nAfter."
    assert chunk_text(doc) == [doc]


def test_a_word_longer_than_the_limit_goes_alone() -> None:
    chunks = chunk_text("short words " + "x" * 400 + " more words", max_tokens=16, overlap=0)
    assert chunks == ["short words", "x" * 400, "more words"]


# ---- properties ----------------------------------------------------------------------------
words = st.text(alphabet="abcdefghijklmnopqrstuvwxyz.,!?'#-", min_size=1, max_size=12)
separators = st.sampled_from([" ", " ", " ", "\n", "\n\n", ". ", "\n# ", "\n## "])


@st.composite
def documents(draw: st.DrawFn) -> str:
    parts = draw(st.lists(st.tuples(words, separators), max_size=300))
    return "".join(w + s for w, s in parts)


settings_ = settings(max_examples=150, deadline=None)


@settings_
@given(documents(), st.integers(16, 120), st.integers(0, 59))
def test_chunks_fit_cover_the_text_in_order_and_are_deterministic(
    text: str, max_tokens: int, overlap: int
) -> None:
    overlap = min(overlap, (max_tokens - 1) // 2)
    chunks = split_text(text, max_tokens=max_tokens, overlap=overlap)
    assert chunks == split_text(text, max_tokens=max_tokens, overlap=overlap)
    if not text.strip():
        assert chunks == []
        return
    for chunk in chunks:
        assert estimate_tokens(chunk.text) <= max_tokens
        assert chunk.text.endswith(text[chunk.start : chunk.end])
    # in order, each starting inside or right after the one before, and nothing left out
    assert text[: chunks[0].start].strip() == "" and text[chunks[-1].end :].strip() == ""
    for before, after in pairwise(chunks):
        assert before.start < after.start and before.end < after.end
        assert text[before.end : after.start].strip() == "" or after.start < before.end


@settings_
@given(documents(), st.integers(16, 120))
def test_without_overlap_the_chunks_are_the_words_of_the_text(text: str, max_tokens: int) -> None:
    chunks = split_text(text, max_tokens=max_tokens, overlap=0)
    assert [w for c in chunks for w in text[c.start : c.end].split()] == text.split()
