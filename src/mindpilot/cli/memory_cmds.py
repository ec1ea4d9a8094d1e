"""`mindpilot memory ...` commands."""

import click

COMMANDS: list[click.Command] = []
