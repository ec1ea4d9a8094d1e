"""Backups of a store file, consistent while it is being written (SQLite's online backup
API copies a snapshot page by page), their checks, and restoring one into place.

A restore keeps the file it replaces beside it (`<store>.before-restore-<time>`), so a
restore is itself undoable by restoring that file.
"""

from __future__ import annotations

import shutil
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from mindpilot import config
from mindpilot.errors import ConfigError, NotFoundError, StoreDamagedError
from mindpilot.mental_process.sqlite.base import SQLiteBase


@dataclass(frozen=True)
class Checked:
    """What `check_file` found in a store file."""

    path: Path
    ok: bool
    detail: str  # "ok", or SQLite's words for what is wrong
    records: int  # current and superseded records, every namespace
    namespaces: int


class BackupMethods(SQLiteBase):
    def backup(self, target: str | Path) -> Checked:
        """Write a consistent copy of the whole store (every namespace) to `target`, a new
        file (0600), and check it. Concurrent writers wait only page by page."""
        path = Path(target).expanduser()
        if path.exists():
            raise ConfigError(f"{path} exists already", hint="give a new file name")
        if not path.parent.is_dir():
            raise NotFoundError(f"no folder {path.parent} for the backup", hint="create it first")
        partial = path.with_name(f".{path.name}.partial")
        config.private_file(partial)
        try:
            copy = sqlite3.connect(partial)
            try:
                with self._lock:
                    self._conn.backup(copy)
            finally:
                copy.close()
            partial.replace(path)  # a backup that exists is whole
        finally:
            partial.unlink(missing_ok=True)
        return check_file(path)

    def integrity(self) -> Checked:
        """SQLite's own check of this store's file (`PRAGMA quick_check`)."""
        return check_file(self.path)


def check_file(path: Path) -> Checked:
    """Open `path` read-only and check it: SQLite's quick check, and the store's tables."""
    if not path.is_file():
        raise NotFoundError(f"no store file at {path}")
    detail = quick_check(path)
    if detail != "ok":
        return Checked(path, False, detail, 0, 0)
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        records = conn.execute("SELECT count(*) FROM records").fetchone()[0]
        namespaces = conn.execute("SELECT count(DISTINCT namespace) FROM records").fetchone()[0]
    except sqlite3.DatabaseError as err:
        return Checked(path, False, str(err), 0, 0)
    finally:
        conn.close()
    return Checked(path, True, detail, int(records), int(namespaces))


def quick_check(path: Path) -> str:
    """SQLite's own check of any SQLite file, read-only: "ok", or what is wrong with it."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return "; ".join(row[0] for row in conn.execute("PRAGMA quick_check"))
    except sqlite3.DatabaseError as err:
        return str(err)
    finally:
        conn.close()


def restore(backup: Path, store_path: Path) -> Path | None:
    """Replace the store file with `backup` (checked first); returns where the replaced file
    was kept (None if there was none). Stop a server using the store before restoring."""
    checked = check_file(backup)
    if not checked.ok:
        raise StoreDamagedError(
            f"the backup {backup} is damaged or not a mindpilot store ({checked.detail})",
            hint="choose another backup",
        )
    kept = None
    if store_path.exists():
        kept = store_path.with_name(
            f"{store_path.name}.before-restore-{time.strftime('%Y%m%d-%H%M%S')}"
        )
        config.private_file(kept)
        try:
            _copy(store_path, kept)  # through SQLite: what its write-ahead log holds too
        except sqlite3.DatabaseError:
            shutil.copyfile(store_path, kept)  # damaged: its bytes as they are
    try:
        _copy(backup, store_path)
    except sqlite3.DatabaseError:  # the file replaced was damaged: start it anew
        for path in (store_path, Path(f"{store_path}-wal"), Path(f"{store_path}-shm")):
            path.unlink(missing_ok=True)
        config.private_file(store_path)
        _copy(backup, store_path)
    return kept


def _copy(source_path: Path, target_path: Path) -> None:
    """SQLite's backup of one file into another (the target's pages replaced, consistently)."""
    source = sqlite3.connect(f"file:{source_path}?mode=ro", uri=True)
    try:
        target = sqlite3.connect(target_path)
        try:
            source.backup(target)
        finally:
            target.close()
    finally:
        source.close()
