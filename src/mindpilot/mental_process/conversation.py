"""Chat transcripts in, knowledge records out: turns kept with speaker, session and time,
cut into windows of consecutive turns.

Two formats (docs/operations.md, "Conversations"):
- JSON Lines of turns, one per line: {"speaker": "Anna", "text": "...", "time":
  "2023-05-08T14:03", "session": "s1"}. `speaker` and `text` are required; `time` too, except
  that a turn without one takes the time of the turn before it in the same session. `session`
  is optional ("" when absent).
- OpenAI-style message lists: a .json file holding [{"role": "user", "content": "..."}, ...]
  or {"messages": [...], "time": ..., "session": ...}, or JSON Lines with one such object per
  line (one session each). The speaker is the message's "name", else its role; the time is
  the session's "time", else `default_time`.

Everything is read and checked before anything is returned: a bad line fails the whole file,
naming the line, so an ingest writes all of it or nothing.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from itertools import groupby
from pathlib import Path
from typing import Any

from mindpilot.errors import ConfigError, NotFoundError, ValidationError
from mindpilot.mental_process.records import Knowledge
from mindpilot.mental_process.timeparse import parse_date, when_of

SUFFIXES = (".jsonl", ".json")
MAX_WHEN_PARTS = 8  # times kept per window: its turns' dates and the times they mention


@dataclass(frozen=True)
class Turn:
    """One utterance of a conversation."""

    speaker: str
    text: str
    time: str  # as given
    day: date | None  # `time` as a date, None when it is not one
    session: str
    line: int  # where it was read (1-based line of the file, or message index of a list)


def is_transcript(path: Path) -> bool:
    return path.suffix.lower() in SUFFIXES


def read_transcript(path: Path, *, default_time: str = "") -> list[Turn]:
    """The turns of a transcript file in either format (see the module docstring)."""
    path = Path(path)
    if not path.is_file():
        raise NotFoundError(f"no transcript file at {path}")
    try:
        raw = path.read_bytes().decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as exc:
        raise ValidationError(f"{path} is not UTF-8 (byte {exc.start})") from None
    if path.suffix.lower() == ".json":
        data = _json(raw, f"{path}")
        sessions = [data] if isinstance(data, dict) else [{"messages": data}]
        turns = [t for s in sessions for t in _session_turns(s, 1, path, default_time)]
    else:
        turns = list(_jsonl_turns(raw, path, default_time))
    if not turns:
        raise ValidationError(f"{path} holds no turns", hint="see the transcript format in docs")
    return turns


def _json(text: str, where: str) -> Any:
    try:
        return json.loads(text)
    except (json.JSONDecodeError, RecursionError) as err:
        raise ValidationError(
            f"{where} is not valid JSON: {err}", hint="fix that line; nothing was ingested"
        ) from None


def _jsonl_turns(raw: str, path: Path, default_time: str) -> Iterator[Turn]:
    last_time: dict[str, str] = {}  # session -> the time of its latest turn
    for number, line in enumerate(raw.splitlines(), start=1):
        if not line.strip():
            continue
        data = _json(line, f"line {number} of {path}")
        if isinstance(data, dict) and "messages" in data:
            yield from _session_turns(data, number, path, default_time)
            continue
        if not isinstance(data, dict):
            raise _bad(path, number, f"expected an object, got {type(data).__name__}")
        session = _field(data, "session", path, number, required=False)
        time = _field(data, "time", path, number, required=False) or last_time.get(session, "")
        if not time:
            raise _bad(path, number, "the turn has no time (and no earlier turn of its session)",
                       hint='give it a "time", e.g. "2023-05-08T14:03"')  # fmt: skip
        last_time[session] = time
        speaker = _field(data, "speaker", path, number)
        yield _turn(speaker, _field(data, "text", path, number), time, session, number)


def _session_turns(data: Any, number: int, path: Path, default_time: str) -> Iterator[Turn]:
    """The messages of one OpenAI-style session object."""
    messages = data.get("messages") if isinstance(data, dict) else None
    if not isinstance(messages, list):
        raise _bad(path, number, 'expected a list of messages (or {"messages": [...]})')
    session = _field(data, "session", path, number, required=False)
    time = _field(data, "time", path, number, required=False) or default_time
    if not time:
        raise _bad(path, number, "the session has no time",
                   hint='give it a "time", or pass --time to the ingest')  # fmt: skip
    for index, message in enumerate(messages, start=1):
        where = f"{number}, message {index}"
        if not isinstance(message, dict):
            raise _bad(path, where, "a message must be an object with role and content")
        if message.get("role") == "system":
            continue  # instructions to a model, not something anyone said
        speaker = message.get("name") or _field(message, "role", path, where)
        yield _turn(str(speaker), _field(message, "content", path, where), time, session, number)


def _field(
    data: dict[str, Any], name: str, path: Path, where: object, *, required: bool = True
) -> str:
    value = data.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise _bad(path, where, f'the turn has no "{name}"')
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise _bad(path, where, f'"{name}" must be text, got {type(value).__name__}')
    return str(value).strip()


def _bad(path: Path, where: object, what: str, hint: str | None = None) -> ValidationError:
    return ValidationError(
        f"line {where} of {path}: {what}", hint=hint or "fix that line; nothing was ingested"
    )


def _turn(speaker: str, text: str, time: str, session: str, line: int) -> Turn:
    return Turn(speaker, text, time, parse_date(time), session, line)


# ---- windows of turns -----------------------------------------------------------------------
def turn_windows(turns: Sequence[Turn], *, window: int = 3, overlap: int = 1) -> list[list[Turn]]:
    """Consecutive turns of one session, `window` at a time, each window repeating the last
    `overlap` turns of the one before (a question and its answer stay together in one)."""
    if isinstance(window, bool) or not isinstance(window, int) or window < 1:
        raise ConfigError(f"window={window!r} must be a whole number >= 1")
    if isinstance(overlap, bool) or not isinstance(overlap, int) or not 0 <= overlap < window:
        raise ConfigError(f"overlap={overlap!r} must be >= 0 and below the window ({window})")
    windows: list[list[Turn]] = []
    for session in _sessions(turns):
        start = 0
        while True:
            windows.append(session[start : start + window])
            if start + window >= len(session):
                break
            start += window - overlap
    return windows


def _sessions(turns: Sequence[Turn]) -> list[list[Turn]]:
    """Runs of turns of the same session, in file order."""
    return [list(run) for _, run in groupby(turns, key=lambda turn: turn.session)]


def window_text(turns: Sequence[Turn]) -> str:
    """ "[2023-05-08, session s1]" and then one "Speaker: text" line per turn."""
    first = turns[0]
    day = first.day.isoformat() if first.day else first.time
    header = f"[{day}, session {first.session}]" if first.session else f"[{day}]"
    return "\n".join([header, *(f"{t.speaker}: {t.text}" for t in turns)])


def window_when(turns: Sequence[Turn]) -> str:
    """The window's `when`: its turns' dates and the times they mention, resolved against
    their own date; a time that is not a date is kept as written."""
    parts: list[str] = []
    for turn in turns:
        found = when_of(turn.text, turn.day) if turn.day else turn.time
        for part in found.split("; "):
            if part and part not in parts:
                parts.append(part)
    return "; ".join(parts[:MAX_WHEN_PARTS])


def conversation_records(
    turns: Sequence[Turn],
    *,
    namespace: str,
    domain: str,
    source: str,
    window: int = 3,
    overlap: int = 1,
    tags: Sequence[str] = (),
) -> list[Knowledge]:
    """One knowledge record per window of turns, with speaker, session and time kept."""
    records = []
    for turns_in in turn_windows(turns, window=window, overlap=overlap):
        speakers = list(dict.fromkeys(t.speaker for t in turns_in))
        lines = f"{turns_in[0].line}-{turns_in[-1].line}"
        records.append(
            Knowledge(
                namespace=namespace,
                domain=domain,
                text=window_text(turns_in),
                source=f"{source}#L{lines}",
                tags=tuple(tags),
                when=window_when(turns_in),
                speaker=", ".join(speakers),
                session=turns_in[0].session,
            )
        )
    return records


def ingest_records(
    path: Path,
    *,
    namespace: str,
    domain: str,
    tags: Sequence[str] = (),
    time: str = "",
    max_tokens: int = 200,
    overlap: int = 30,
    turns: int = 3,
    turn_overlap: int = 1,
    max_file_mb: float = 10.0,
    follow_links: bool = False,
) -> list[Knowledge]:
    """The knowledge records `memory ingest` writes for a path: a transcript (.jsonl/.json)
    in windows of `turns` turns, or documents in chunks of `max_tokens`. A document chunk's
    `when` holds the dates it mentions, relative ones resolved against `time` (the source's
    date) when one is given."""
    from mindpilot.mental_process.ingest import chunk_text, read_documents

    if Path(path).is_file() and is_transcript(Path(path)):
        found = read_transcript(Path(path), default_time=time)
        return conversation_records(
            found,
            namespace=namespace,
            domain=domain,
            source=str(path),
            window=turns,
            overlap=turn_overlap,
            tags=tags,
        )
    anchor = parse_date(time) if time else None
    if time and anchor is None:
        raise ValidationError(f"--time {time!r} is not a date", hint="e.g. 2023-05-08")
    documents = read_documents(Path(path), max_file_mb=max_file_mb, follow_links=follow_links)
    return [
        Knowledge(
            namespace=namespace,
            domain=domain,
            text=chunk,
            source=source,
            tags=tuple(tags),
            when=when_of(chunk, anchor, limit=MAX_WHEN_PARTS),
        )
        for source, text in documents
        for chunk in chunk_text(text, max_tokens=max_tokens, overlap=overlap)
    ]
