"""`mindpilot task ...` commands."""

import click

COMMANDS: list[click.Command] = []
