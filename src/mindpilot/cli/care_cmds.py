"""Looking after an installation: `mindpilot memory backup|restore|scan` and `mindpilot doctor`."""

from __future__ import annotations

import dataclasses
import os
import shutil
import sys
from pathlib import Path
from typing import Any

import click

from mindpilot import config
from mindpilot.cli.memory_cmds import memory, opened, require_namespace, store_options
from mindpilot.cli.options import store_option
from mindpilot.cli.output import emit_json, snippet, table
from mindpilot.errors import ConfigError, MindpilotError


@memory.command("backup")
@click.argument("target", type=click.Path(dir_okay=False, path_type=Path))
@store_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
def backup_cmd(target: Path, store_path: Path | None, as_json: bool) -> None:
    """Copy the whole store (every namespace) to TARGET, a new file: consistent while a
    server writes to it. Restore it with `mindpilot memory restore TARGET`."""
    from mindpilot.mental_process.sqlite import SQLiteStore

    with opened(store_path) as store:
        if not isinstance(store, SQLiteStore):
            raise ConfigError("backup copies an SQLite store; use your database's own tools")
        checked = store.backup(target)
    _say(as_json, dataclasses.asdict(checked) | {"path": str(target)},
         f"backed up {checked.records} record(s) in {checked.namespaces} namespace(s) to "
         f"{target} (checked: {checked.detail})")  # fmt: skip


@memory.command("restore")
@click.argument("backup", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@store_option
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
def restore_cmd(backup: Path, store_path: Path | None, yes: bool, as_json: bool) -> None:
    """Replace the store with BACKUP (checked first). The replaced file is kept beside it
    (`<store>.before-restore-<time>`). Stop `mindpilot serve` on this store first."""
    from mindpilot.mental_process.sqlite.backup import restore

    target = store_path or config.default_store_path()
    if not yes:
        click.confirm(f"Replace {target} (every namespace) with {backup}?", abort=True)
    kept = restore(backup, target)
    text = f"restored {target} from {backup}" + (f"; the replaced file is {kept}" if kept else "")
    _say(as_json, {"restored": str(target), "kept": str(kept) if kept else None}, text)


@memory.command("scan")
@store_options
def scan_cmd(namespace: str, store_path: Path | None, as_json: bool) -> None:
    """Find stored text that gives the model instructions ("ignore previous instructions",
    "say PWNED", forged turns). Answers never see those sentences (they are replaced by a
    notice in prompts); reword or delete the records listed. Exits 1 when any is found."""
    from mindpilot.self_taking.guard import scan

    with opened(store_path) as store:
        require_namespace(store, namespace)
        flagged = scan(store, namespace)
    if as_json:
        emit_json([dataclasses.asdict(f) for f in flagged])
    else:
        rows = [
            (f.kind, f.id, f.version, f.field, " | ".join(snippet(x.text) for x in f.findings))
            for f in flagged
        ]
        table(f"{len(flagged)} stored text(s) in {namespace!r} instruct the model",
              ["kind", "id", "version", "field", "text"], rows)  # fmt: skip
    if flagged:
        sys.exit(1)


@click.command("doctor")
@store_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
def doctor(store_path: Path | None, as_json: bool) -> None:
    """Check the installation: home folder and its permissions, the store's and the key
    file's integrity, the default model, free disk. Exits 1 when a check fails."""
    checks = [_home(), _store(store_path), _keys(), _model(), _disk()]
    if as_json:
        emit_json([{"check": c, "state": s, "detail": d} for c, s, d in checks])
    else:
        table("mindpilot doctor", ("check", "state", "detail"), checks)
    if any(state == "FAIL" for _, state, _ in checks):
        sys.exit(1)


Check = tuple[str, str, str]  # (what, "ok" | "warn" | "FAIL", detail)


def _home() -> Check:
    try:
        home = config.home()
    except MindpilotError as err:
        return ("home", "FAIL", err.message)
    mode = home.stat().st_mode & 0o777
    if not os.access(home, os.W_OK):
        return ("home", "FAIL", f"{home} is not writable")
    if mode & 0o077:
        return ("home", "warn", f"{home} is readable by others ({oct(mode)}): chmod 700 {home}")
    return ("home", "ok", str(home))


def _store(store_path: Path | None) -> Check:
    from mindpilot.mental_process.sqlite.backup import check_file

    target = store_path or config.store_target()
    if "://" in str(target) and not str(target).startswith("sqlite://"):
        return _store_server(str(target))
    path = Path(str(target).removeprefix("sqlite://"))
    if not path.exists():
        return ("store", "ok", f"{path} (not created yet)")
    checked = check_file(path)
    if not checked.ok:
        return ("store", "FAIL", f"{path}: {checked.detail}; `mindpilot memory restore BACKUP`")
    return ("store", "ok", f"{path}: {checked.records} records, {checked.namespaces} namespaces")


def _store_server(url: str) -> Check:
    """A store on a database server: it answers, with the schema this code knows."""
    from mindpilot.mental_process.store import open_store

    try:
        with open_store(url) as store:
            return ("store", "ok", f"{store.where}: {len(store.namespaces())} namespaces")  # type: ignore[attr-defined]
    except MindpilotError as err:
        return ("store", "FAIL", str(err))


def _keys() -> Check:
    path = config.home() / "keys.db"
    if not path.exists():
        return ("API keys", "ok", "none created")
    from mindpilot.mental_process.sqlite.backup import quick_check

    detail = quick_check(path)
    return ("API keys", "ok" if detail == "ok" else "FAIL", f"{path}: {detail}")


def _model() -> Check:
    from mindpilot.autopilot import loading

    try:
        source = loading.resolve(None)
    except MindpilotError as err:
        return ("default model", "FAIL", f"{err.message} ({err.hint})" if err.hint else err.message)
    return ("default model", "ok", f"{source.name} in {source.folder}")


def _disk() -> Check:
    free = shutil.disk_usage(config.home()).free / 1e9
    state = "ok" if free >= 1 else "warn"
    return ("free disk", state, f"{free:.1f} GB under {config.home()}")


def _say(as_json: bool, data: dict[str, Any], text: str) -> None:
    if as_json:
        emit_json({k: str(v) if isinstance(v, Path) else v for k, v in data.items()})
    else:
        click.echo(text)


COMMANDS: list[click.Command] = [doctor]
