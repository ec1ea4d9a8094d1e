"""The PostgreSQL store's journal (mental_process/journal.py): sessions, the audit log and
monitor runs in the store's database (migration "0004_sessions_audit_and_monitor_runs").

It borrows the store's pool: each call takes a connection for one statement (autocommit), or
for one transaction where it writes two tables; a connection lost on the way is a
`StoreUnavailableError` (503, nothing half-written, safe to retry), as for the records."""

from __future__ import annotations

import builtins
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg

from mindpilot.errors import ValidationError
from mindpilot.mental_process.journal import (
    AUDIT_COLUMNS,
    AUDIT_NAMES,
    NAMESPACES,
    SESSION_COLUMNS,
    Adherence,
    AuditEntry,
    AuditFilter,
    ChatSession,
    Journal,
    StoredRun,
    Turn,
    audit_entry,
    audit_scope,
    audit_values,
    scope,
)
from mindpilot.mental_process.postgres.connection import Connections


class PostgresJournal(Journal):
    """Thread-safe and shared by any number of processes: every call has its own connection.
    Closing it leaves the pool to the store that owns it."""

    def __init__(self, db: Connections) -> None:
        self._db = db

    @contextmanager
    def _use(self) -> Iterator[psycopg.Connection]:
        """A pooled connection; text PostgreSQL cannot hold is a ValidationError (422), not a
        driver error (SQLite keeps a NUL character, PostgreSQL's text type cannot)."""
        try:
            with self._db.use() as conn:
                yield conn
        except psycopg.DataError as err:
            if "NUL" not in str(err):
                raise
            raise ValidationError(
                "the text holds a NUL character (\\x00), which PostgreSQL cannot store",
                hint="remove the NUL character and send it again; nothing was stored",
            ) from None

    # ---- chat sessions ------------------------------------------------------------------------
    def add_session(self, session: ChatSession) -> None:
        with self._use() as conn:
            conn.execute(
                "INSERT INTO chat_sessions (id, namespace, task, title, created_at, updated_at)"
                " VALUES (%s, %s, %s, %s, %s, %s)",
                (session.id, session.namespace, session.task, session.title,
                 session.created_at, session.updated_at),
            )  # fmt: skip

    def find_session(self, namespace: str, session_id: str) -> ChatSession | None:
        with self._use() as conn:
            row = conn.execute(
                f"SELECT {SESSION_COLUMNS} FROM chat_sessions WHERE namespace = %s AND id = %s",
                (namespace, session_id),
            ).fetchone()
        return None if row is None else ChatSession(*row)

    def sessions(self, namespace: str, limit: int, offset: int) -> builtins.list[ChatSession]:
        with self._use() as conn:
            rows = conn.execute(
                f"SELECT {SESSION_COLUMNS} FROM chat_sessions WHERE namespace = %s"
                " ORDER BY updated_at DESC, seq DESC LIMIT %s OFFSET %s",
                (namespace, limit, offset),
            ).fetchall()
        return [ChatSession(*row) for row in rows]

    def add_turn(self, namespace: str, session_id: str, turn: Turn, title: str) -> None:
        with self._use() as conn, conn.transaction():  # both rows or neither
            conn.execute(
                "INSERT INTO chat_turns (namespace, session_id, role, content, audit_id,"
                " created_at) VALUES (%s, %s, %s, %s, %s, %s)",
                (namespace, session_id, turn.role, turn.content, turn.audit_id, turn.created_at),
            )
            conn.execute(
                "UPDATE chat_sessions SET title = %s, updated_at = %s"
                " WHERE namespace = %s AND id = %s",
                (title, turn.created_at, namespace, session_id),
            )

    def turns(self, namespace: str, session_id: str) -> builtins.list[Turn]:
        with self._use() as conn:
            rows = conn.execute(
                "SELECT role, content, audit_id, created_at FROM chat_turns"
                " WHERE namespace = %s AND session_id = %s ORDER BY seq",
                (namespace, session_id),
            ).fetchall()
        return [Turn(*row) for row in rows]

    def delete_session(self, namespace: str, session_id: str) -> None:
        with self._use() as conn:  # the turns go by ON DELETE CASCADE
            conn.execute(
                "DELETE FROM chat_sessions WHERE namespace = %s AND id = %s",
                (namespace, session_id),
            )

    # ---- the audit log ------------------------------------------------------------------------
    def add_entry(self, entry: AuditEntry) -> None:
        with self._use() as conn:
            conn.execute(
                f"INSERT INTO audit_log ({AUDIT_COLUMNS})"
                f" VALUES ({', '.join(['%s'] * len(AUDIT_NAMES))})",
                audit_values(entry),
            )

    def find_entry(self, namespace: str, entry_id: str) -> AuditEntry | None:
        with self._use() as conn:
            row = conn.execute(
                f"SELECT {AUDIT_COLUMNS} FROM audit_log WHERE namespace = %s AND id = %s",
                (namespace, entry_id),
            ).fetchone()
        return None if row is None else audit_entry(row)

    def entries(
        self, namespace: str, where: AuditFilter, limit: int, offset: int
    ) -> builtins.list[AuditEntry]:
        clause, params = audit_scope("%s", namespace, where)
        with self._use() as conn:
            rows = conn.execute(
                f"SELECT {AUDIT_COLUMNS} FROM audit_log WHERE {clause}"
                " ORDER BY seq DESC LIMIT %s OFFSET %s",
                (*params, limit, offset),
            ).fetchall()
        return [audit_entry(row) for row in rows]

    def adherence(self, namespace: str, task: str | None) -> builtins.list[Adherence]:
        where, params = scope("%s", namespace, task=task)
        # the order SQLite gives: no task first, then bytewise
        with self._use() as conn:
            rows = conn.execute(
                "SELECT task, tone,"
                " to_char(to_timestamp(created_at) AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day,"
                " count(*), count(*) FILTER (WHERE tone_carried)"
                f" FROM audit_log WHERE {where} AND tone_carried IS NOT NULL"
                " GROUP BY task, tone, day"
                ' ORDER BY task COLLATE "C" NULLS FIRST, tone COLLATE "C", day',
                params,
            ).fetchall()
        return [Adherence(*row) for row in rows]

    def link_experience(self, namespace: str, entry_id: str, experience_id: str) -> None:
        with self._use() as conn:
            conn.execute(
                "UPDATE audit_log SET experience_id = %s WHERE namespace = %s AND id = %s",
                (experience_id, namespace, entry_id),
            )

    # ---- monitor runs -------------------------------------------------------------------------
    def add_run(self, run: StoredRun) -> None:
        with self._use() as conn:  # one statement: all of the run or none of it
            conn.execute(
                "INSERT INTO monitor_runs (id, namespace, task, created_at, result)"
                " VALUES (%s, %s, %s, %s, %s)",
                (run.id, run.namespace, run.task, run.created_at, run.result),
            )

    def runs(self, namespace: str, task: str | None, limit: int) -> builtins.list[StoredRun]:
        where, params = scope("%s", namespace, task=task)
        with self._use() as conn:
            rows = conn.execute(
                "SELECT id, namespace, task, created_at, result FROM monitor_runs"
                f" WHERE {where} ORDER BY seq DESC LIMIT %s",
                (*params, limit),
            ).fetchall()
        return [StoredRun(*row) for row in rows]

    def namespaces(self) -> builtins.list[str]:
        with self._use() as conn:
            return [row[0] for row in conn.execute(NAMESPACES).fetchall()]

    def close(self) -> None:
        """Nothing of its own to release: the pool is the store's."""
