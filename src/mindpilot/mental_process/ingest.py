"""Documents in, chunks out: reading .txt/.md files and cutting them into embeddable pieces.

Chunks follow the text's structure: whole paragraphs are packed together up to `max_tokens`;
a paragraph too long for one chunk is cut between sentences, a sentence too long between words.
Each chunk after the first repeats the last ~`overlap` tokens of the one before (starting at a
sentence where it can), so a fact cut at a boundary is still whole in one of them.

Markdown headings start a new chunk, and every chunk carries its heading path as a first line
("Guide > Install"), so a chunk deep in a section still says what it is about. The chunk that
begins with the heading line itself carries only the headings above it.
"""

from __future__ import annotations

import bisect
import os
import re
import stat
from dataclasses import dataclass
from itertools import accumulate, pairwise
from pathlib import Path

from mindpilot.errors import ConfigError, NotFoundError, ValidationError

SUFFIXES = (".txt", ".md", ".markdown")
# Larger files are refused unless asked: 10 MB of text is ~2.5M tokens, ~12,000 chunks (about
# five minutes of MiniLM on 2 cores), and all of a file is held in memory while it is cut.
MAX_FILE_MB = 10.0
_UTF8_HINT = "convert them to UTF-8, e.g. iconv -f latin1 -t utf-8 FILE > FILE.utf8"


# ---- reading -------------------------------------------------------------------------------
def read_documents(
    path: Path, *, max_file_mb: float = MAX_FILE_MB, follow_links: bool = False
) -> list[tuple[str, str]]:
    """(source, text) for a .txt/.md/.markdown file, or for each such file under a folder.

    Folders are walked recursively in sorted order; hidden files and folders (".name"), files
    with other suffixes and anything that is not a regular file (a FIFO would block the read
    for ever) are skipped, and so are empty files when others remain. Links are followed only
    to files inside the folder, unless `follow_links`. Every file is checked before anything
    is returned, so one bad file (not UTF-8, unreadable, over `max_file_mb`) fails the whole
    call, with all the bad files named.
    """
    path = Path(path)
    if not path.exists():
        raise NotFoundError(f"no file or folder at {path}")
    if path.is_dir():
        files = _document_files(path, follow_links)
        if not files:
            raise ValidationError(
                f"folder {path} holds no {'/'.join(SUFFIXES)} files", hint="add some documents"
            )
    elif path.suffix.lower() in SUFFIXES and _regular(path):
        files = [path]
    elif path.suffix.lower() in SUFFIXES:
        raise ValidationError(f"{path} is not a regular file", hint="give a file or a folder")
    else:
        raise ValidationError(
            f"{path} is not a text document: {path.suffix or 'no suffix'}",
            hint=f"give a {', '.join(SUFFIXES)} file, or a folder of them",
        )
    too_big = [f"{f} ({f.stat().st_size / 1e6:.1f} MB)" for f in files if _over(f, max_file_mb)]
    if too_big:
        raise ValidationError(
            f"over {max_file_mb:g} MB: {_list(too_big)}",
            hint="split the file, or raise the limit (--max-file-mb)",
        )
    documents, not_utf8, unreadable = [], [], []
    for file in files:
        try:
            text = file.read_bytes().decode("utf-8")
        except UnicodeDecodeError as exc:
            not_utf8.append(f"{file} (byte {exc.start})")
            continue
        except OSError as exc:
            unreadable.append(f"{file} ({exc.strerror})")
            continue
        if text.strip():
            documents.append((str(file), text.removeprefix("\ufeff")))  # drop a UTF-8 BOM
    if not_utf8:
        raise ValidationError(f"not UTF-8: {_list(not_utf8)}", hint=_UTF8_HINT)
    if unreadable:
        raise ValidationError(f"cannot read: {_list(unreadable)}", hint="check the permissions")
    if not documents:
        raise ValidationError(f"{path} is empty: no text to ingest")
    return documents


def _document_files(folder: Path, follow_links: bool) -> list[Path]:
    found, inside = [], folder.resolve()
    for root, dirs, names in os.walk(folder, followlinks=follow_links):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))  # prunes the walk, in order
        for name in sorted(names):
            file = Path(root) / name
            if name.startswith(".") or file.suffix.lower() not in SUFFIXES or not _regular(file):
                continue
            if follow_links or file.resolve().is_relative_to(inside):
                found.append(file)
    return found


def _regular(file: Path) -> bool:
    """A regular file (after links): not a FIFO, socket or device."""
    try:
        return stat.S_ISREG(file.stat().st_mode)
    except OSError:
        return False


def _over(file: Path, max_mb: float) -> bool:
    return file.stat().st_size > max_mb * 1e6


def _list(items: list[str], most: int = 10) -> str:
    more = f" and {len(items) - most} more" if len(items) > most else ""
    return ", ".join(items[:most]) + more


# ---- token estimate ------------------------------------------------------------------------
# Word pieces without a tokenizer: each run of letters, run of digits, CJK character and other
# symbol counts 1, plus 1 per 8 characters (long or rare words split into several pieces).
# Against MiniLM's WordPiece tokenizer on English technical docs this totals 0.98-1.04x the real
# count; windows estimated at 200 held at most 229-271 real tokens (code-heavy text is worst).
_PIECE = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]|[^\W\d_]+|\d+|\S")


def _word_tokens(word: str) -> int:
    if word.isascii() and word.isalpha():  # the common case, without the regex
        return 1 + len(word) // 8
    return len(_PIECE.findall(word)) + len(word) // 8


def estimate_tokens(text: str) -> int:
    """Approximate MiniLM (WordPiece) token count; additive over whitespace-separated words."""
    return sum(_word_tokens(word) for word in text.split())


# ---- chunking ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Chunk:
    """A piece of a document: `text` is what gets embedded and stored."""

    text: str  # heading path (if any), a blank line, then source[start:end]
    start: int  # character offsets of the chunk's body in the source text
    end: int
    heading: str  # the heading path prefixed to the body, "" when none


@dataclass
class _Section:
    lo: int  # word range [lo, hi)
    hi: int
    path: tuple[str, ...]  # heading texts, outermost first; () before the first heading
    first_path: tuple[str, ...]  # headings above the section's own heading line(s)
    body: int  # index of the first word after the heading line (lo when no heading)


# Break strength before a word: a chunk boundary prefers the strongest.
_WORD_BREAK, _SENTENCE, _PARAGRAPH = 0, 1, 2
_SENTENCE_END = re.compile(r"[.!?][\"')\]]*$")
_END_CHARS = frozenset(".!?\"')]")
_LINE_MARKER = re.compile(r"([-*+>|]|#{1,6}|\d+[.)])$")
_HEADING = re.compile(r"#{1,6}$")


def chunk_text(text: str, *, max_tokens: int = 200, overlap: int = 30) -> list[str]:
    """Cut text into chunks of at most `max_tokens` estimated tokens (see `split_text`)."""
    return [chunk.text for chunk in split_text(text, max_tokens=max_tokens, overlap=overlap)]


def split_text(text: str, *, max_tokens: int = 200, overlap: int = 30) -> list[Chunk]:
    """Cut text into `Chunk`s, in order, each at most `max_tokens` estimated tokens.

    Only a single word longer than `max_tokens` makes a longer chunk (it is kept whole).
    `overlap` tokens of each chunk are repeated at the start of the next within a section.
    """
    if not isinstance(max_tokens, int) or max_tokens < 16:
        raise ConfigError(f"max_tokens={max_tokens!r} must be a whole number >= 16")
    if not isinstance(overlap, int) or not 0 <= overlap < max_tokens / 2:
        raise ConfigError(f"overlap={overlap!r} must be >= 0 and below max_tokens / 2")
    words = [m.span() for m in re.finditer(r"\S+", text)]
    if not words:
        return []
    costs = [_word_tokens(text[a:b]) for a, b in words]
    cum = [0, *accumulate(costs)]  # cum[i]: tokens in words[:i]
    breaks, sections = _scan(text, words)
    chunks: list[Chunk] = []
    for section in sections:
        full, first = _prefix(section.path, max_tokens), _prefix(section.first_path, max_tokens)
        budget = max_tokens - estimate_tokens(full)  # `first` is never longer than `full`
        pieces = _pieces(section.lo, section.hi, budget, cum, breaks)
        for lo, hi in _pack(pieces, budget, overlap, cum, breaks):
            heading = first if lo == section.lo and section.body > lo else full
            if estimate_tokens(heading) + cum[hi] - cum[lo] > max_tokens:
                heading = ""  # one over-long word: it goes alone
            start, end = words[lo][0], words[hi - 1][1]
            body = text[start:end]
            chunks.append(Chunk(f"{heading}\n\n{body}" if heading else body, start, end, heading))
    return chunks


def _scan(text: str, words: list[tuple[int, int]]) -> tuple[list[int], list[_Section]]:
    """Break strength before each word, and the Markdown sections (heading-led word ranges)."""
    breaks = [_PARAGRAPH] * len(words)
    headings: list[tuple[int, int, int, str]] = []  # (word index, level, words in line, text)
    in_fence, prev_end = False, 0
    for i, (start, end) in enumerate(words):
        # (most gaps are one space: skip the count there)
        newlines = text.count("\n", prev_end, start) if start - prev_end > 1 else 0
        if start - prev_end == 1 and text[prev_end] == "\n":
            newlines = 1
        word = text[start:end]
        if i and newlines < 2:
            ends = text[prev_end - 1] in _END_CHARS and bool(
                _SENTENCE_END.search(text, words[i - 1][0], prev_end)
            )
            marker = newlines == 1 and _LINE_MARKER.match(word) is not None
            breaks[i] = _SENTENCE if ends or marker else _WORD_BREAK
        prev_end = end
        if i and newlines == 0:
            continue
        if word.startswith(("```", "~~~")):
            in_fence = not in_fence
        elif not in_fence and _HEADING.match(word):
            line_end = text.find("\n", end)
            line = text[end : len(text) if line_end < 0 else line_end]
            n_words = 1 + len(line.split())
            headings.append((i, len(word), n_words, line.strip().rstrip("#").strip() or word))
    return breaks, _sections(len(words), headings)


def _sections(n_words: int, headings: list[tuple[int, int, int, str]]) -> list[_Section]:
    sections: list[_Section] = []
    if not headings or headings[0][0] > 0:
        sections.append(_Section(0, headings[0][0] if headings else n_words, (), (), 0))
    stack: list[tuple[int, str]] = []  # (level, text) of the open headings
    merge_from: tuple[int, tuple[str, ...]] | None = None  # a heading-only section before
    for j, (i, level, n_line, title) in enumerate(headings):
        while stack and stack[-1][0] >= level:
            stack.pop()
        above = tuple(t for _, t in stack)
        stack.append((level, title))
        hi = headings[j + 1][0] if j + 1 < len(headings) else n_words
        lo, first_path = merge_from or (i, above)
        if hi - i <= n_line and j + 1 < len(headings):
            merge_from = (lo, first_path)  # no body: its heading line leads the next section
            continue
        merge_from = None
        sections.append(_Section(lo, hi, (*above, title), first_path, min(i + n_line, hi)))
    return sections


def _prefix(path: tuple[str, ...], max_tokens: int) -> str:
    """The heading path as one line, dropping outer headings until it fits a quarter budget."""
    for skip in range(len(path)):
        line = " > ".join(path[skip:])
        if estimate_tokens(line) <= max_tokens // 4:
            return line
    return ""


def _pieces(
    lo: int, hi: int, budget: int, cum: list[int], breaks: list[int]
) -> list[tuple[int, int]]:
    """Split words[lo:hi] into ranges within budget: paragraphs, else sentences, else words."""
    out: list[tuple[int, int]] = []
    stack = [(lo, hi, _PARAGRAPH)]
    while stack:
        a, b, level = stack.pop()
        if cum[b] - cum[a] <= budget or b - a == 1:
            out.append((a, b))
            continue
        cuts = [i for i in range(a + 1, b) if breaks[i] >= level] if level else []
        if level and not cuts:
            stack.append((a, b, level - 1))
            continue
        bounds = [a, *cuts, b] if level else list(range(a, b + 1))
        parts = [(x, y, level - 1) for x, y in pairwise(bounds)]
        stack.extend(reversed(parts))  # popped in order
    return out


def _pack(
    pieces: list[tuple[int, int]], budget: int, overlap: int, cum: list[int], breaks: list[int]
) -> list[tuple[int, int]]:
    """Greedily join consecutive pieces into word ranges of at most `budget` tokens."""
    ranges: list[tuple[int, int]] = []
    cur_lo, cur_hi = pieces[0]
    for lo, hi in pieces[1:]:
        if cum[hi] - cum[cur_lo] <= budget:
            cur_hi = hi
            continue
        ranges.append((cur_lo, cur_hi))
        # Carry the previous chunk's tail: words[j:lo] with at most `overlap` tokens that still
        # leave room for the piece; start at the earliest sentence in that window if any.
        floor = max(cum[lo] - overlap, cum[hi] - budget)
        j = min(bisect.bisect_left(cum, floor, cur_lo + 1, lo + 1), lo)
        sentence = next((s for s in range(j, lo) if breaks[s] >= _SENTENCE), None)
        cur_lo, cur_hi = (sentence if sentence is not None else j), hi
    ranges.append((cur_lo, cur_hi))
    return ranges
