"""Options many commands share, defined once so that they read and behave the same everywhere."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])

STORE_HELP = (
    "Store: a file, or a URL such as postgresql://user@host:5432/db "
    "(default: the `store` setting, else mindpilot.db under MINDPILOT_HOME)."
)


class StoreTarget(click.ParamType):
    """A store file (a Path) or a store URL such as postgresql://... (kept as text: a Path
    would fold its "//")."""

    name = "path|url"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, Path) or "://" not in str(value):
            return Path(value)
        return str(value)


def namespace_option(help: str = "Namespace (tenant) to work in.") -> Callable[[F], F]:
    """--namespace/-n, also from $MINDPILOT_NAMESPACE."""
    return click.option(
        "--namespace", "-n", default="default", show_default=True, envvar="MINDPILOT_NAMESPACE",
        help=help,
    )  # fmt: skip


store_option = click.option(
    "--store", "store_path", type=StoreTarget(),
    envvar="MINDPILOT_STORE", help=STORE_HELP,
)  # fmt: skip
