"""`mindpilot config show`: every setting, its value and where the value came from."""

from __future__ import annotations

import json

import click

from mindpilot import config


@click.group("config")
def config_group() -> None:
    """Settings: flags > environment (MINDPILOT_<NAME>) > $MINDPILOT_HOME/config.toml > default."""


@config_group.command("show")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
def show(as_json: bool) -> None:
    """List every setting with its value and its source (environment, config.toml, default)."""
    rows = []
    for known in config.SETTINGS:
        value, source = config.setting(known.name)
        rows.append({"name": known.name, "value": value, "source": source, "help": known.help})
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    from mindpilot.cli.output import table

    path = config.home() / "config.toml"
    title = f"settings ({path}{'' if path.is_file() else ': none yet'})"
    table(title, ("name", "value", "source", "description"),
          [(r["name"], r["value"], r["source"], r["help"]) for r in rows])  # fmt: skip


COMMANDS: list[click.Command] = [config_group]
