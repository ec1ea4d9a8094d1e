"""API keys: each maps to one namespace. Only a SHA-256 hash of a key is ever stored.

Keys live in their own SQLite file (`keys.db` under MINDPILOT_HOME), apart from the Mental
Process store, so any store backend can be served with keys. A key is shown once, when it is
created (`mindpilot keys create --namespace NAME`); revoking one keeps its row for the record.
"""

from __future__ import annotations

import builtins
import hashlib
import secrets
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from mindpilot import config
from mindpilot.errors import NotFoundError, ValidationError
from mindpilot.mental_process.records import check_namespace
from mindpilot.mental_process.sqlite import migrated, open_sqlite

KEY_PREFIX = "mp-"

KEYS_TABLE = """
CREATE TABLE api_keys (
    id TEXT PRIMARY KEY,                -- "key_" + 12 hex digits, safe to show and log
    hash TEXT NOT NULL UNIQUE,          -- sha256 hex of the secret key
    namespace TEXT NOT NULL,
    label TEXT NOT NULL DEFAULT '',
    created_at REAL NOT NULL,
    revoked_at REAL                     -- NULL while the key works
);
"""

MIGRATIONS: list[tuple[str, str]] = [("0001_api_keys", KEYS_TABLE)]

# What a caller without a working key is told to do.
HOW_TO_GET_A_KEY = "create one with `mindpilot keys create --namespace NAME` on the server"


@dataclass(frozen=True)
class ApiKey:
    """One key's public facts (never the key itself)."""

    id: str
    namespace: str
    label: str
    created_at: float  # unix seconds
    revoked_at: float | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


class KeyStore:
    """The API keys of one installation. Usable from any thread."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._conn = open_sqlite(path, wal=False)
        migrated(self._conn, path, MIGRATIONS)

    @classmethod
    def default(cls) -> KeyStore:
        """The installation's key file, `keys.db` under MINDPILOT_HOME."""
        return cls(config.home() / "keys.db")

    def create(self, namespace: str, label: str = "") -> tuple[ApiKey, str]:
        """A new key for `namespace`; returns its public facts and the secret (shown once)."""
        check_namespace(namespace)
        if len(label) > 200:
            raise ValidationError("the key label is longer than 200 characters")
        secret = KEY_PREFIX + secrets.token_urlsafe(32)
        key = ApiKey(f"key_{secrets.token_hex(6)}", namespace, label, time.time())
        with self._lock:
            self._conn.execute(
                "INSERT INTO api_keys (id, hash, namespace, label, created_at)"
                " VALUES (?, ?, ?, ?, ?)",
                (key.id, _hash(secret), key.namespace, key.label, key.created_at),
            )
        return key, secret

    def list(self) -> builtins.list[ApiKey]:
        """Every key, revoked ones too, oldest first."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT id, namespace, label, created_at, revoked_at FROM api_keys"
                " ORDER BY created_at, id"
            ).fetchall()
        return [ApiKey(*row) for row in rows]

    def revoke(self, key_id: str) -> ApiKey:
        """Stop a key from working (at once, also for a running server); returns it."""
        with self._lock:
            self._conn.execute(
                "UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
                (time.time(), key_id),
            )
            row = self._conn.execute(
                "SELECT id, namespace, label, created_at, revoked_at FROM api_keys WHERE id = ?",
                (key_id,),
            ).fetchone()
        if row is None:
            raise NotFoundError(f"no API key {key_id!r}", hint="see `mindpilot keys list`")
        return ApiKey(*row)

    def lookup(self, secret: str) -> str | None:
        """The namespace of a working key, or None (unknown or revoked)."""
        with self._lock:
            row = self._conn.execute(
                "SELECT namespace FROM api_keys WHERE hash = ? AND revoked_at IS NULL",
                (_hash(secret),),
            ).fetchone()
        return str(row[0]) if row else None

    def has_active(self) -> bool:
        with self._lock:
            row = self._conn.execute(
                "SELECT 1 FROM api_keys WHERE revoked_at IS NULL LIMIT 1"
            ).fetchone()
        return row is not None

    def close(self) -> None:
        with self._lock:
            self._conn.close()
