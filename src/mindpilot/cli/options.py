"""Options many commands share, defined once so that they read and behave the same everywhere."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])

STORE_HELP = "Store file (default: mindpilot.db under MINDPILOT_HOME)."


def namespace_option(help: str = "Namespace (tenant) to work in.") -> Callable[[F], F]:
    """--namespace/-n, also from $MINDPILOT_NAMESPACE."""
    return click.option(
        "--namespace", "-n", default="default", show_default=True, envvar="MINDPILOT_NAMESPACE",
        help=help,
    )  # fmt: skip


store_option = click.option(
    "--store", "store_path", type=click.Path(dir_okay=False, path_type=Path),
    envvar="MINDPILOT_STORE", help=STORE_HELP,
)  # fmt: skip
