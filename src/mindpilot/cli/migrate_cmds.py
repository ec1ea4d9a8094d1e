"""`mindpilot memory migrate`: move the Mental Process between stores (e.g. the embedded
SQLite file to PostgreSQL), records, task profiles and history exactly, with the journal."""

from __future__ import annotations

from typing import Any

import click

from mindpilot.cli.memory_cmds import memory
from mindpilot.cli.options import StoreTarget
from mindpilot.cli.output import emit_json


@memory.command("migrate")
@click.option(
    "--from",
    "source",
    type=StoreTarget(),
    required=True,
    help="The store to copy from: a file, sqlite:///path or postgresql://...",
)
@click.option(
    "--to",
    "target",
    type=StoreTarget(),
    required=True,
    help="The store to copy into (created or migrated as needed).",
)
@click.option(
    "--namespace",
    "-n",
    "namespaces",
    multiple=True,
    help="Copy only this namespace (repeatable; default: every one).",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
def migrate_cmd(source: Any, target: Any, namespaces: tuple[str, ...], as_json: bool) -> None:
    """Copy every namespace of one store into another, exactly: records with their vectors
    (nothing is embedded again), task profiles, the whole history (undo works there too), and
    the journal: chat sessions, the audit log and monitor runs.

    Each namespace's records are copied in one transaction. A namespace the target already
    holds with the same records is skipped, so a migration that was interrupted resumes when
    run again; one holding other records is refused. Journal rows the target lacks are added
    (by id). The source is not changed."""
    from rich.progress import Progress

    from mindpilot.mental_process.store import open_store
    from mindpilot.mental_process.transfer import Moved, all_namespaces, migrate_store

    with open_store(source) as src, open_store(target) as dst:
        names = list(namespaces) or all_namespaces(src)
        with Progress(transient=True, disable=as_json) as progress:
            bar = progress.add_task("migrating", total=len(names))

            def advance(done: Moved) -> None:
                progress.update(bar, advance=1, description=f"migrated {done.namespace}")

            moved = migrate_store(src, dst, namespaces=names, on_namespace=advance)
    if as_json:
        emit_json([m.__dict__ for m in moved])
        return
    for m in moved:
        state = "already there, skipped" if m.skipped else "copied"
        click.echo(
            f"{m.namespace}: {m.records} records, {m.tasks} tasks, {m.changes} changes {state};"
            f" journal: {m.sessions} sessions, {m.turns} turns, {m.entries} audit entries,"
            f" {m.runs} monitor runs added"
        )
    click.echo(f"{len(moved)} namespace(s) migrated")


COMMANDS: list[click.Command] = []  # adds to the `memory` group
