"""`mindpilot log ... | feedback | session ...`: what was answered, why, and how it went."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import click

from mindpilot.cli.memory_cmds import opened, store_options
from mindpilot.cli.output import emit_json, snippet, table, used_lines, when

if TYPE_CHECKING:
    from mindpilot.monitor.audit import AuditEntry, AuditLog


@contextmanager
def opened_log(store_path: Path | None) -> Iterator[AuditLog]:
    """The store's audit log (its `.store` is the store), both closed afterwards."""
    from mindpilot.monitor.audit import AuditLog

    with opened(store_path) as store, AuditLog(store) as audit:
        yield audit


# ---- log ------------------------------------------------------------------------------------
@click.group("log")
def log() -> None:
    """The audit log: every answer, the prompt it came from and the records it used."""


@log.command("list")
@click.option("--task", help="Only answers for this task.")
@click.option("--session", "session_id", help="Only answers in this chat session.")
@click.option("--tone", help="Only answers asked for this tone (the emotion's state).")
@click.option(
    "--carried/--not-carried", default=None, help="Only answers that did (not) carry the tone."
)
@click.option("--limit", type=click.IntRange(min=0), default=20, show_default=True)
@click.option("--offset", type=click.IntRange(min=0), default=0)
@store_options
def list_cmd(
    task: str | None,
    session_id: str | None,
    tone: str | None,
    carried: bool | None,
    limit: int,
    offset: int,
    namespace: str,
    store_path: Path | None,
    as_json: bool,
) -> None:
    """List answers, newest first."""
    with opened_log(store_path) as audit:
        entries = audit.list(
            namespace, task=task, session_id=session_id, limit=limit, offset=offset,
            tone=tone, carried=carried,
        )  # fmt: skip
    if as_json:
        emit_json([e.to_dict() for e in entries])
        return
    rows = [
        (e.id, when(e.created_at), e.task, tone_cell(e), len(e.used),
         e.prompt_tokens + e.completion_tokens, snippet(e.response, 50))
        for e in entries
    ]  # fmt: skip
    table(
        f"{len(rows)} answer(s) in {namespace!r}",
        ("id", "at", "task", "tone (score)", "used", "tokens", "text"),
        rows,
    )


def tone_cell(entry: AuditEntry) -> str:
    """'empathy 0.67 yes' (asked, score, carried), 'empathy' when unmeasured, '' for none."""
    use = entry.tone_use
    if use is None:
        return entry.tone or ""
    if use.score is None:
        return use.tone
    return f"{use.tone} {use.score:.2f} {'yes' if use.carried else 'no'}"


@log.command("tone")
@click.option("--task", help="Only this task.")
@store_options
def tone_cmd(task: str | None, namespace: str, store_path: Path | None, as_json: bool) -> None:
    """Tone adherence per task and day: answers measured, and the share that carried the tone
    asked (the emotion's state, scored by `mindpilot tone score`'s scorer)."""
    with opened_log(store_path) as audit:
        found = audit.tone_adherence(namespace, task=task)
    if as_json:
        emit_json([{**vars(a), "rate": a.rate} for a in found])
        return
    rows = [(a.task, a.tone, a.day, a.answers, a.carried, f"{a.rate:.0%}") for a in found]
    table(
        f"tone adherence in {namespace!r}",
        ("task", "tone", "day", "answers", "carried", "adherence"),
        rows,
    )


@log.command("show")
@click.argument("entry_id", metavar="AUDIT_ID")
@store_options
def show_cmd(entry_id: str, namespace: str, store_path: Path | None, as_json: bool) -> None:
    """Show one answer: the composed prompt, the records used, the response and timings."""
    with opened_log(store_path) as audit:
        entry = audit.get(namespace, entry_id)
        used = used_lines(audit.store, namespace, entry.used)
    if as_json:
        emit_json(entry.to_dict())
        return
    _echo_entry(entry, used)


def tone_line(entry: AuditEntry) -> str:
    from mindpilot.cli.tone_cmds import tone_text

    return tone_text(entry.tone_use) if entry.tone_use else entry.tone or "none"


def _echo_entry(entry: AuditEntry, used: list[str]) -> None:
    session = f"  session {entry.session_id}" if entry.session_id else ""
    click.secho(f"{entry.id}  {when(entry.created_at)}  task {entry.task}{session}", bold=True)
    click.echo(f"model {entry.model} via {entry.backend}; tone: {tone_line(entry)}")
    if entry.adapter is not None:
        a = entry.adapter
        click.echo(f"adapter {a.id} v{a.version} (task {a.task})")
    click.secho(f"\n-- prompt ({len(entry.prompt)} messages) --", fg="cyan")
    for message in entry.prompt:
        click.echo(f"[{message.role}] {message.content}")
    click.secho(f"\n-- records used ({len(used)}) --", fg="cyan")
    for line in used or ["none"]:
        click.echo(line)
    click.secho("\n-- response --", fg="cyan")
    click.echo(entry.response)
    click.secho("\n-- tokens and timings --", fg="cyan")
    click.echo(
        f"{entry.prompt_tokens} prompt tokens ({entry.memory_tokens} from the Mental Process) + "
        f"{entry.completion_tokens} completion, finish: {entry.finish_reason}"
    )
    click.echo(
        f"retrieval {entry.retrieval_s:.3f} s, compose {entry.compose_s:.3f} s, "
        f"prompt {entry.prompt_s:.3f} s, decode {entry.decode_s:.3f} s"
    )
    if entry.experience_id:
        click.echo(f"feedback: experience {entry.experience_id}")


# ---- feedback ---------------------------------------------------------------------------------
@click.command("feedback")
@click.argument("entry_id", metavar="AUDIT_ID")
@click.option("--good/--bad", default=None, help="Was the answer good?")
@click.option("--note", default="", help="What was good or bad about it.")
@store_options
def feedback_cmd(
    entry_id: str,
    good: bool | None,
    note: str,
    namespace: str,
    store_path: Path | None,
    as_json: bool,
) -> None:
    """Rate an answer: it becomes an experience of its task (score 1 or -1), so similar
    requests later take it as an example (good) or leave it out (bad)."""
    if good is None:
        raise click.UsageError("say --good or --bad")
    with opened_log(store_path) as audit:
        experience = audit.feedback(namespace, entry_id, good, note, actor="cli")
    if as_json:
        emit_json(experience.to_dict())
    else:
        click.echo(
            f"{'good' if good else 'bad'} feedback on {entry_id} saved as experience "
            f"{experience.id} of task {experience.task!r}"
        )


# ---- sessions ---------------------------------------------------------------------------------
@click.group("session")
def session() -> None:
    """Chat sessions: list, show and delete conversations."""


@session.command("list")
@click.option("--limit", type=click.IntRange(min=0), default=50, show_default=True)
@store_options
def session_list_cmd(limit: int, namespace: str, store_path: Path | None, as_json: bool) -> None:
    """List chat sessions, most recently active first."""
    from mindpilot.applications.chat import Sessions

    with opened(store_path) as store, Sessions(store) as sessions:
        found = sessions.list(namespace, limit=limit)
    if as_json:
        emit_json([s.to_dict() for s in found])
        return
    rows = [(s.id, s.task, when(s.updated_at), s.title) for s in found]
    table(f"{len(rows)} session(s) in {namespace!r}", ("id", "task", "active", "text"), rows)


@session.command("show")
@click.argument("session_id")
@store_options
def session_show_cmd(
    session_id: str, namespace: str, store_path: Path | None, as_json: bool
) -> None:
    """Show a session's conversation."""
    from mindpilot.applications.chat import Sessions

    with opened(store_path) as store, Sessions(store) as sessions:
        chat = sessions.get(namespace, session_id)
        turns = sessions.turns(namespace, session_id)
    if as_json:
        emit_json({**chat.to_dict(), "turns": [vars(t) for t in turns]})
        return
    click.secho(f"{chat.id}  task {chat.task}  started {when(chat.created_at)}", bold=True)
    for turn in turns:
        audit = f"  [{turn.audit_id}]" if turn.audit_id else ""
        click.echo(f"{turn.role}> {turn.content}{audit}")


@session.command("delete")
@click.argument("session_id")
@store_options
def session_delete_cmd(
    session_id: str, namespace: str, store_path: Path | None, as_json: bool
) -> None:
    """Delete a session and its turns (its audit log entries stay)."""
    from mindpilot.applications.chat import Sessions

    with opened(store_path) as store, Sessions(store) as sessions:
        sessions.delete(namespace, session_id)
    if as_json:
        emit_json({"deleted": session_id})
    else:
        click.echo(f"deleted session {session_id}")


COMMANDS: list[click.Command] = [log, feedback_cmd, session]
