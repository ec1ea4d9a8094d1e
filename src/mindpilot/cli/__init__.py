"""The `mindpilot` command: a thin shell over the engine. Errors become messages here, only here.

Each command group lives in its own module and is attached below.
"""

from __future__ import annotations

import errno
import sys

import click

from mindpilot import config
from mindpilot.errors import MindpilotError


class FriendlyGroup(click.Group):
    """MindpilotError becomes a one-line message and exit code 1 (MINDPILOT_DEBUG=1: traceback).
    So do the operating system's refusals (a missing folder, a full disk, no permission) and
    numbers too large for the store: they are the user's to fix, not bugs to report."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except MindpilotError as err:
            _fail(err.message, err.hint)
        except OSError as err:
            if err.strerror is None:  # not the OS's own refusal: a bug, shown as one
                raise
            where = f": {err.filename}" if err.filename else ""
            _fail(f"{err.strerror}{where}", _OS_HINTS.get(err.errno or 0))
        except OverflowError as err:
            _fail(f"a number is too large ({err})", "use a smaller value")
        return None


_OS_HINTS = {
    errno.ENOENT: "check the path; folders are not created for output files",
    errno.EACCES: "check the permissions, or choose another path",
    errno.ENOSPC: "free some disk space and run it again",
    errno.EROFS: "the file system is read-only: choose another path",
    errno.EISDIR: "give a file name, not a folder",
}


def _fail(message: str, hint: str | None) -> None:
    if config.debug():
        raise
    click.secho(f"Error: {message}", fg="red", err=True)
    if hint:
        click.echo(f"  fix: {hint}", err=True)
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
        care_cmds,
        chat_cmds,
        config_cmds,
        log_cmds,
        memory_cmds,
        migrate_cmds,
        model_cmds,
        monitor_cmds,
        serve_cmds,
        task_cmds,
        tone_cmds,
    )

    modules = [app_cmds, model_cmds, chat_cmds, memory_cmds, task_cmds, adapt_cmds, log_cmds]
    # care_cmds adds backup, restore and scan to memory; migrate_cmds adds migrate
    modules += [care_cmds, migrate_cmds, config_cmds, monitor_cmds, tone_cmds]
    for module in (*modules, serve_cmds, bench_cmds):
        for command in module.COMMANDS:
            cli.add_command(command)


_attach()


def main() -> None:
    cli()
