"""The `mindpilot` command: a thin shell over the engine. Errors become messages here, only here.

Each command group lives in its own module and is attached below.
"""

from __future__ import annotations

import sys

import click

from mindpilot import config
from mindpilot.errors import MindpilotError


class FriendlyGroup(click.Group):
    """MindpilotError becomes a one-line message and exit code 1 (MINDPILOT_DEBUG=1: traceback)."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except MindpilotError as err:
            if config.debug():
                raise
            click.secho(f"Error: {err.message}", fg="red", err=True)
            if err.hint:
                click.echo(f"  fix: {err.hint}", err=True)
            sys.exit(1)


@click.group(cls=FriendlyGroup)
@click.version_option(package_name="mindpilot")
def cli() -> None:
    """mindpilot: task-specific assistants on a frozen pretrained language model."""


def _attach() -> None:
    # Imported here so that each group owns its module and none imports the CLI root.
    from mindpilot.cli import (
        adapt_cmds,
        app_cmds,
        bench_cmds,
        chat_cmds,
        log_cmds,
        memory_cmds,
        model_cmds,
        serve_cmds,
        task_cmds,
    )

    modules = [app_cmds, model_cmds, chat_cmds, memory_cmds, task_cmds, adapt_cmds, log_cmds]
    for module in (*modules, serve_cmds, bench_cmds):
        for command in module.COMMANDS:
            cli.add_command(command)


_attach()


def main() -> None:
    cli()
