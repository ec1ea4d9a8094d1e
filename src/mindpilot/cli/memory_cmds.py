"""`mindpilot memory ...`: add, ingest, search, edit and roll back the Mental Process."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote

import click

from mindpilot.cli.options import namespace_option, store_option
from mindpilot.cli.output import (
    emit_json,
    scope,
    show_changes,
    show_fields,
    show_records,
    summary,
    table,
)
from mindpilot.errors import NotFoundError, ValidationError
from mindpilot.mental_process.records import (
    KINDS,
    SEARCH_MODES,
    Emotion,
    Experience,
    Hit,
    Knowledge,
    Record,
)

if TYPE_CHECKING:  # the store (and numpy) load when a command opens it, not for a resident call
    from mindpilot.mental_process.store import Store

F = TypeVar("F", bound=Callable[..., Any])


# ---- shared options (task_cmds uses these too) ------------------------------------
def store_options(command: F) -> F:
    """--namespace/-n, --store and --json, on every memory and task command."""
    command = click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")(
        command
    )
    return namespace_option()(store_option(command))


@contextmanager
def opened(store_path: Path | None) -> Iterator[Store]:
    """The store (embedder: $MINDPILOT_EMBEDDER, default minilm), closed afterwards."""
    from mindpilot.mental_process.store import open_store

    with open_store(store_path) as store:
        yield store


def require_namespace(store: Store, namespace: str) -> None:
    """A typo in -n should not look like an empty memory."""
    if namespace != "default" and namespace not in store.namespaces():
        raise NotFoundError(
            f"namespace {namespace!r} does not exist",
            hint=f"known namespaces: {', '.join(store.namespaces()) or 'none yet'}",
        )


def _timestamp(value: datetime | None) -> float | None:
    return None if value is None else value.timestamp()


# ---- commands -----------------------------------------------------------------------------
@click.group("memory")
def memory() -> None:
    """Add, search, edit and roll back what the Mental Process knows."""


@memory.command("add")
@click.argument("text")
@click.option("--kind", type=click.Choice(KINDS), default="knowledge", show_default=True)
@click.option("--domain", help="Knowledge: its domain (required).")
@click.option("--source", default="cli", show_default=True, help="Knowledge: where it came from.")
@click.option("--tag", "tags", multiple=True, help="Knowledge: a tag (repeatable).")
@click.option("--task", help="Emotion / experience: the task (required).")
@click.option("--guidance", default="", help="Emotion: how to express it.")
@click.option("--intensity", type=float, default=0.5, show_default=True, help="Emotion: 0..1.")
@click.option("--response", default="", help="Experience: what was answered.")
@click.option("--score", type=float, help="Experience: feedback, -1..1.")
@click.option("--note", default="", help="Experience: a note on the outcome.")
@click.option("--supersedes", metavar="ID", help="Knowledge: the record this one replaces.")
@click.option("--quiet", "-q", is_flag=True, help="Print only the new id (ID=$(... -q)).")
@store_options
def add_cmd(
    text: str, kind: str, domain: str | None, source: str, tags: tuple[str, ...],
    task: str | None, guidance: str, intensity: float, response: str, score: float | None,
    note: str, supersedes: str | None, quiet: bool, namespace: str, store_path: Path | None,
    as_json: bool,
) -> None:  # fmt: skip
    """Add one record. TEXT is the knowledge text, the emotion's state (e.g. "empathy") or
    the experience's situation.

    \b
    mindpilot memory add --domain billing "Refunds take five days"
    mindpilot memory add --kind emotion --task support empathy --guidance "acknowledge first"
    mindpilot memory add --kind experience --task support "Where is my parcel?" --response "..."
    """
    needed = {"knowledge": ("--domain", domain), "emotion": ("--task", task)}
    needed["experience"] = needed["emotion"]
    option, value = needed[kind]
    if not value:
        raise ValidationError(
            f"{option} is required for a {kind} record", hint=f"add {option} NAME"
        )
    record: Record
    if kind == "knowledge":
        record = Knowledge(
            namespace=namespace, domain=domain or "", text=text, source=source, tags=tags
        )
    elif kind == "emotion":
        record = Emotion(
            namespace=namespace, task=task or "", state=text, guidance=guidance, intensity=intensity
        )
    else:
        record = Experience(
            namespace=namespace, task=task or "", situation=text, response=response, score=score,
            note=note,
        )  # fmt: skip
    stored = _add_through_server(record, supersedes, store_path)
    if stored is None:
        with opened(store_path) as store:
            if supersedes:
                stored = store.supersede(namespace, supersedes, record, actor="cli")
            else:
                stored = store.add(record, actor="cli")
    if as_json:
        emit_json(stored.to_dict())
    else:
        click.echo(stored.id if quiet else f"added {stored.id}")
    if kind == "emotion":
        _note_unmeasured(text)


def _note_unmeasured(state: str) -> None:
    """A state that names no measured tone is kept (any text may guide the prompt), with a
    note that it will be neither steered nor scored."""
    from mindpilot.tone import TONES, known_tone

    if known_tone(state) is None:
        click.echo(
            f"note: {state!r} is not a measured tone, so it only goes into the prompt "
            f"(measured: {', '.join(TONES)})",
            err=True,
        )


def _add_through_server(record: Record, supersedes: str | None, store_path: Path | None) -> Any:
    """The stored record, added by a resident server on this store (its embedder is loaded
    already), or None when there is none: the caller adds it in-process."""
    from mindpilot.cli import resident
    from mindpilot.mental_process.records import record_from_dict

    url = resident.memory_server(record.namespace, store_path)
    if url is None:
        return None
    body = {k: v for k, v in record.to_dict().items() if k in _WIRE_FIELDS[record.kind]}
    if supersedes:  # the new record is knowledge, which the route says itself
        path = f"/v1/memory/records/{quote(supersedes, safe='')}/supersede"
        body.pop("kind")
        return record_from_dict(resident.call(url, "POST", path, body))
    return record_from_dict(resident.call(url, "POST", "/v1/memory/records", body))


# What the HTTP API takes for each kind (the server assigns ids, versions and times).
_WIRE_FIELDS = {
    "knowledge": {"kind", "domain", "text", "source", "tags"},
    "emotion": {"kind", "task", "state", "guidance", "intensity"},
    "experience": {"kind", "task", "situation", "response", "score", "note"},
}


@memory.command("ingest")
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@click.option("--domain", required=True, help="Domain of the knowledge.")
@click.option("--max-tokens", type=int, default=200, show_default=True, help="Chunk size.")
@click.option("--overlap", type=int, default=30, show_default=True, help="Tokens shared by chunks.")
@click.option(
    "--turns", type=int, default=3, show_default=True, help="Turns per transcript record."
)
@click.option("--turn-overlap", type=int, default=1, show_default=True, help="Turns shared.")
@click.option("--time", default="", help="Date of the source (relative dates resolve to it).")
@click.option("--tag", "tags", multiple=True, help="A tag for every chunk (repeatable).")
@click.option(
    "--max-file-mb", type=click.FloatRange(0.001, 10_000), default=10.0, show_default=True,
    help="Refuse files larger than this.",
)  # fmt: skip
@click.option("--follow-links", is_flag=True, help="Follow links to files outside the folder.")
@store_options
def ingest_cmd(
    path: Path, domain: str, namespace: str, store_path: Path | None, as_json: bool,
    **options: Any,
) -> None:  # fmt: skip
    """Add a .txt/.md file, or a folder of them, as knowledge in chunks; or a chat transcript
    (.jsonl turns, or .json/.jsonl OpenAI message lists) in windows of turns, with speaker,
    session and time kept. Everything is checked before anything is written."""
    from mindpilot.mental_process.conversation import ingest_records

    records = ingest_records(path, namespace=namespace, domain=domain, **options)
    with opened(store_path) as store:
        stored = store.add_many(records, actor="cli", progress=not as_json)
    if as_json:
        emit_json({"added": len(stored), "ids": [r.id for r in stored]})
    else:
        files = len({r.source.split("#L")[0] for r in records})
        click.echo(f"added {len(stored)} records from {files} file(s) to domain {domain!r}")


@memory.command("list")
@click.option("--kind", type=click.Choice(KINDS))
@click.option("--domain")
@click.option("--task")
@click.option("--tag", "tags", multiple=True, help="Only records with this tag (repeatable: all).")
@click.option("--since", type=click.DateTime(), help="Created at or after (local time).")
@click.option("--until", type=click.DateTime(), help="Created before (local time).")
@click.option("--all", "include_superseded", is_flag=True, help="Include superseded records.")
@click.option("--limit", type=int, default=50, show_default=True)
@click.option("--offset", type=int, default=0)
@store_options
def list_cmd(
    kind: Any, domain: str | None, task: str | None, tags: tuple[str, ...],
    since: datetime | None, until: datetime | None, include_superseded: bool, limit: int,
    offset: int, namespace: str, store_path: Path | None, as_json: bool,
) -> None:  # fmt: skip
    """List records, newest first."""
    with opened(store_path) as store:
        require_namespace(store, namespace)
        records = store.list(
            namespace, kind=kind, domain=domain, task=task, tags=tags, since=_timestamp(since),
            until=_timestamp(until), include_superseded=include_superseded, limit=limit,
            offset=offset,
        )  # fmt: skip
    if as_json:
        emit_json([r.to_dict() for r in records])
    else:
        show_records(records, f"{len(records)} record(s) in {namespace!r}")


@memory.command("search")
@click.argument("query")
@click.option("--kind", "kinds", type=click.Choice(KINDS), multiple=True, help="Repeatable.")
@click.option("--domain", "domains", multiple=True, help="Knowledge domains (repeatable).")
@click.option("--task", "tasks", multiple=True, help="Tasks for emotions/experiences (repeatable).")
@click.option("--tag", "tags", multiple=True)
@click.option("-k", "k", type=int, default=5, show_default=True, help="How many hits.")
@click.option("--mode", type=click.Choice(SEARCH_MODES), default="hybrid", show_default=True)
@store_options
def search_cmd(
    query: str, kinds: tuple[Any, ...], domains: tuple[str, ...], tasks: tuple[str, ...],
    tags: tuple[str, ...], k: int, mode: Any, namespace: str, store_path: Path | None,
    as_json: bool,
) -> None:  # fmt: skip
    """Search current records by keywords and meaning. `similarity` is the cosine between
    query and record (-1..1); `score` only orders the hits."""
    hits = _search_through_server(
        query, namespace, store_path, kinds=list(kinds) or None, domains=list(domains) or None,
        tasks=list(tasks) or None, tags=list(tags), top_k=k, mode=mode,
    )  # fmt: skip
    if hits is None:
        with opened(store_path) as store:
            require_namespace(store, namespace)
            hits = store.search(
                namespace, query, kinds=kinds or KINDS, domains=domains or None,
                tasks=tasks or None, tags=tags, k=k, mode=mode,
            )  # fmt: skip
    if as_json:
        emit_json([_hit_dict(h) for h in hits])
        return
    rows = [
        (h.record.id, h.record.kind, scope(h.record), summary(h.record), f"{h.similarity:.3f}",
         f"{h.score:.4f}")
        for h in hits
    ]  # fmt: skip
    table(
        f"{len(hits)} hit(s) for {query!r}",
        ("id", "kind", "domain/task", "text", "sim", "score"),
        rows,
    )


def _search_through_server(
    query: str, namespace: str, store_path: Path | None, **body: Any
) -> list[Hit] | None:
    """The hits of a resident server on this store (its embedder is loaded already), or None
    when there is none: the caller searches in-process."""
    from mindpilot.cli import resident
    from mindpilot.mental_process.records import record_from_dict

    url = resident.memory_server(namespace, store_path)
    if url is None:
        return None
    found = resident.call(url, "POST", "/v1/memory/search", {"query": query, **body})
    return [
        Hit(record=record_from_dict(h.pop("record")), **h)  # type: ignore[arg-type]
        for h in found["data"]
    ]


def _hit_dict(hit: Hit) -> dict[str, Any]:
    return {
        "score": hit.score, "similarity": hit.similarity, "keyword_score": hit.keyword_score,
        "keyword_rank": hit.keyword_rank, "vector_rank": hit.vector_rank,
        "record": hit.record.to_dict(),
    }  # fmt: skip


@memory.command("show")
@click.argument("record_id")
@store_options
def show_cmd(record_id: str, namespace: str, store_path: Path | None, as_json: bool) -> None:
    """Show one record, all fields."""
    with opened(store_path) as store:
        record = store.get(namespace, record_id)
    if as_json:
        emit_json(record.to_dict())
        return
    show_fields(record.id, list(record.to_dict().items()))


@memory.command("history")
@click.argument("record_id")
@store_options
def history_cmd(record_id: str, namespace: str, store_path: Path | None, as_json: bool) -> None:
    """Every change of one record (or "task:NAME"), oldest first."""
    with opened(store_path) as store:
        changes = store.history(namespace, record_id)
    show_changes(changes, f"history of {record_id}", as_json)


@memory.command("undo")
@store_options
def undo_cmd(namespace: str, store_path: Path | None, as_json: bool) -> None:
    """Revert the namespace's latest change (one command's worth, e.g. a whole ingest)."""
    with opened(store_path) as store:
        changes = store.undo(namespace, actor="cli")
    show_changes(changes, f"undid {len(changes)} change(s)", as_json)


@memory.command("delete")
@click.argument("record_id", required=False)
@click.option("--task", help="Delete this task's records and profile.")
@click.option("--domain", help="Delete this domain's knowledge.")
@click.option("--all", "everything", is_flag=True, help="Delete the whole namespace.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@store_options
def delete_cmd(
    record_id: str | None, task: str | None, domain: str | None, everything: bool, yes: bool,
    namespace: str, store_path: Path | None, as_json: bool,
) -> None:  # fmt: skip
    """Delete one record, a task, a domain or a whole namespace (never another namespace).
    `mindpilot memory undo` brings it back."""
    chosen = [x for x in (record_id, task, domain, everything or None) if x]
    if len(chosen) != 1:
        raise ValidationError(
            "say what to delete: a RECORD_ID, --task, --domain or --all (one of them)",
            hint="e.g. mindpilot memory delete kn_0123456789ab",
        )
    with opened(store_path) as store:
        if record_id:
            store.delete(namespace, record_id, actor="cli")
            count = 1
        else:
            what = f"task {task!r}" if task else f"domain {domain!r}" if domain else "everything"
            if not yes:
                click.confirm(f"Delete {what} in namespace {namespace!r}?", abort=True)
            count = store.delete_scope(namespace, task=task, domain=domain, actor="cli")
    if as_json:
        emit_json({"deleted": count})
    else:
        click.echo(f"deleted {count} item(s) from {namespace!r} (undo: mindpilot memory undo)")


@memory.command("export")
@click.option(
    "--output", "-o", type=click.Path(dir_okay=False, path_type=Path), help="Default: stdout."
)
@store_options
def export_cmd(output: Path | None, namespace: str, store_path: Path | None, as_json: bool) -> None:
    """Write the namespace (tasks and records, superseded ones too) as JSONL."""
    with opened(store_path) as store:
        require_namespace(store, namespace)
        if output is None:
            store.export_jsonl(namespace, sys.stdout)
            return
        with output.open("w", encoding="utf-8") as fp:
            count = store.export_jsonl(namespace, fp)
    click.echo(
        json.dumps({"exported": count}) if as_json else f"exported {count} line(s) to {output}"
    )


@memory.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@store_options
def import_cmd(path: Path, namespace: str, store_path: Path | None, as_json: bool) -> None:
    """Read a JSONL export into the namespace: all lines or none."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ValidationError(
            f"{path} is not UTF-8 text", hint="give a JSONL export file"
        ) from None
    import io

    with opened(store_path) as store:
        count = store.import_jsonl(namespace, io.StringIO(text), actor="cli")
    click.echo(
        json.dumps({"imported": count})
        if as_json
        else f"imported {count} line(s) into {namespace!r}"
    )


COMMANDS: list[click.Command] = [memory]
