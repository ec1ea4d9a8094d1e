"""How commands print: tables (rich), JSON for scripts, records, their changes and the records
an answer used; shared by every command group."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

import click

from mindpilot.errors import NotFoundError
from mindpilot.mental_process.records import Change, Emotion, Knowledge, Record

if TYPE_CHECKING:  # the store (and numpy) load when a command opens it, not for a resident call
    from mindpilot.mental_process.store import Store
    from mindpilot.types import UsedRecord

SNIPPET_CHARS = 90


def emit_json(data: object) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=2))


def table(title: str, columns: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    from rich.console import Console
    from rich.table import Table

    grid = Table(title=title, title_justify="left")
    for name in columns:
        if name in ("text", "description", "detail"):  # free text takes what width is left
            grid.add_column(name, overflow="fold", ratio=1, min_width=24)
        else:
            grid.add_column(name, no_wrap=True)
    for row in rows:
        grid.add_row(*("" if v is None else str(v) for v in row))
    Console(soft_wrap=False).print(grid)


def when(at: float) -> str:
    return datetime.fromtimestamp(at).strftime("%Y-%m-%d %H:%M")


def show_fields(title: str, fields: Sequence[tuple[str, object]]) -> None:
    """A two-column table of one item's fields; times (`..._at`, Unix seconds) as local dates
    (--json keeps the numbers)."""
    rows = [
        (k, f"{datetime.fromtimestamp(v):%Y-%m-%d %H:%M:%S}"
            if k.endswith("_at") and isinstance(v, int | float) else v)
        for k, v in fields
    ]  # fmt: skip
    table(title, ("field", "value"), rows)


def summary(record: Record) -> str:
    if isinstance(record, Knowledge):
        return record.text
    if isinstance(record, Emotion):
        return f"{record.state}: {record.guidance}" if record.guidance else record.state
    return f"{record.situation} -> {record.response}" if record.response else record.situation


def snippet(text: str, chars: int = SNIPPET_CHARS) -> str:
    text = " ".join(text.split())
    return text if len(text) <= chars else text[: chars - 3] + "..."


def used_lines(store: Store, namespace: str, used: Sequence[UsedRecord]) -> list[str]:
    """One line per record an answer used: kind, id, version, similarity and its text now."""
    lines = []
    for u in used:
        try:
            record = store.get(namespace, u.id)
            now = "" if record.version == u.version else f" (now v{record.version})"
            text = snippet(summary(record)) + now
        except NotFoundError:
            text = "(deleted since)"
        when = ", taken mid-answer" if u.stage == "decoding" else ""
        lines.append(f"{u.kind} {u.id} v{u.version} similarity {u.similarity:.2f}{when}: {text}")
    return lines


def scope(record: Record) -> str:
    return record.domain if isinstance(record, Knowledge) else record.task


def show_records(records: Sequence[Record], title: str) -> None:
    rows = [
        (r.id, r.kind, scope(r), summary(r), r.version, when(r.updated_at)
         + (" (superseded)" if getattr(r, "superseded_by", None) else ""))
        for r in records
    ]  # fmt: skip
    table(title, ("id", "kind", "domain/task", "text", "v", "updated"), rows)


def change_dict(change: Change) -> dict[str, Any]:
    return {
        "seq": change.seq, "record_id": change.record_id, "kind": change.kind, "op": change.op,
        "actor": change.actor, "at": change.at, "batch": change.batch, "undone": change.undone,
        "before": change.before and change.before.to_dict(),
        "after": change.after and change.after.to_dict(),
    }  # fmt: skip


def show_changes(changes: Sequence[Change], title: str, as_json: bool) -> None:
    if as_json:
        emit_json([change_dict(c) for c in changes])
        return
    rows = [
        (c.seq, c.op, c.record_id, c.actor, when(c.at), "yes" if c.undone else "") for c in changes
    ]
    table(title, ("seq", "op", "record", "actor", "at", "undone"), rows)
