"""The embedded SQLite store, one module per concern (see store.py for the map), and the
schema whose named migrations the sessions, audit log and API keys share."""

from __future__ import annotations

from mindpilot.mental_process.sqlite.schema import (
    MIGRATIONS,
    connect,
    migrate,
    migrated,
    open_sqlite,
)
from mindpilot.mental_process.sqlite.store import SQLiteStore

__all__ = ["MIGRATIONS", "SQLiteStore", "connect", "migrate", "migrated", "open_sqlite"]
