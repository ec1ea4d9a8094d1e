"""`mindpilot memory migrate`: move the Mental Process between stores (e.g. the embedded
SQLite file to PostgreSQL), records, task profiles and history exactly."""

from __future__ import annotations

from typing import Any

import click

from mindpilot.cli.memory_cmds import emit_json, memory
from mindpilot.cli.options import StoreTarget


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
    (nothing is embedded again), task profiles, and the whole history (undo works there too).

    Each namespace is copied in one transaction. A namespace the target already holds with
    the same content is skipped, so a migration that was interrupted resumes when run again;
    one holding anything else is refused. The source is not changed."""
    from rich.progress import Progress

    from mindpilot.mental_process.store import open_store
    from mindpilot.mental_process.transfer import Moved, migrate_store

    with open_store(source) as src, open_store(target) as dst:
        names = list(namespaces) or src.namespaces()
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
        click.echo(f"{m.namespace}: {m.records} records, {m.tasks} tasks, "
                   f"{m.changes} changes {state}")  # fmt: skip
    click.echo(f"{len(moved)} namespace(s) migrated")


COMMANDS: list[click.Command] = []  # adds to the `memory` group
