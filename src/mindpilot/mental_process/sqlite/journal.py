"""The SQLite store's journal (mental_process/journal.py): sessions, the audit log and monitor
runs in the store's file (tables of migrations "0002_sessions_and_audit" to "0006_audit_tone"),
on a connection of its own so a long read of the records never waits for a log write."""

from __future__ import annotations

import builtins
import threading
from pathlib import Path

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
from mindpilot.mental_process.sqlite.schema import connect


class SQLiteJournal(Journal):
    """Thread-safe: one autocommit connection behind a lock."""

    def __init__(self, path: Path) -> None:
        self._lock = threading.Lock()
        self._conn = connect(path)

    # ---- chat sessions ------------------------------------------------------------------------
    def add_session(self, session: ChatSession) -> None:
        with self._lock:
            self._conn.execute(
                "INSERT INTO chat_sessions (id, namespace, task, title, created_at, updated_at)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (session.id, session.namespace, session.task, session.title,
                 session.created_at, session.updated_at),
            )  # fmt: skip

    def find_session(self, namespace: str, session_id: str) -> ChatSession | None:
        with self._lock:
            row = self._conn.execute(
                f"SELECT {SESSION_COLUMNS} FROM chat_sessions WHERE namespace = ? AND id = ?",
                (namespace, session_id),
            ).fetchone()
        return None if row is None else ChatSession(*row)

    def sessions(self, namespace: str, limit: int, offset: int) -> builtins.list[ChatSession]:
        with self._lock:
            rows = self._conn.execute(
                f"SELECT {SESSION_COLUMNS} FROM chat_sessions WHERE namespace = ?"
                " ORDER BY updated_at DESC, rowid DESC LIMIT ? OFFSET ?",
                (namespace, limit, offset),
            ).fetchall()
        return [ChatSession(*row) for row in rows]

    def add_turn(self, namespace: str, session_id: str, turn: Turn, title: str) -> None:
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                self._conn.execute(
                    "INSERT INTO chat_turns (session_id, role, content, audit_id, created_at)"
                    " VALUES (?, ?, ?, ?, ?)",
                    (session_id, turn.role, turn.content, turn.audit_id, turn.created_at),
                )
                self._conn.execute(
                    "UPDATE chat_sessions SET title = ?, updated_at = ?"
                    " WHERE namespace = ? AND id = ?",
                    (title, turn.created_at, namespace, session_id),
                )
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise

    def turns(self, namespace: str, session_id: str) -> builtins.list[Turn]:
        with self._lock:  # session ids are unique across namespaces: the join only scopes
            rows = self._conn.execute(
                "SELECT t.role, t.content, t.audit_id, t.created_at FROM chat_turns t"
                " JOIN chat_sessions s ON s.id = t.session_id"
                " WHERE s.namespace = ? AND t.session_id = ? ORDER BY t.seq",
                (namespace, session_id),
            ).fetchall()
        return [Turn(*row) for row in rows]

    def delete_session(self, namespace: str, session_id: str) -> None:
        with self._lock:  # the turns go by ON DELETE CASCADE
            self._conn.execute(
                "DELETE FROM chat_sessions WHERE namespace = ? AND id = ?",
                (namespace, session_id),
            )

    # ---- the audit log ------------------------------------------------------------------------
    def add_entry(self, entry: AuditEntry) -> None:
        with self._lock:
            self._conn.execute(
                f"INSERT INTO audit_log ({AUDIT_COLUMNS})"
                f" VALUES ({', '.join('?' * len(AUDIT_NAMES))})",
                audit_values(entry),
            )

    def find_entry(self, namespace: str, entry_id: str) -> AuditEntry | None:
        with self._lock:
            row = self._conn.execute(
                f"SELECT {AUDIT_COLUMNS} FROM audit_log WHERE namespace = ? AND id = ?",
                (namespace, entry_id),
            ).fetchone()
        return None if row is None else audit_entry(row)

    def entries(
        self, namespace: str, where: AuditFilter, limit: int, offset: int
    ) -> builtins.list[AuditEntry]:
        clause, params = audit_scope("?", namespace, where)
        with self._lock:
            rows = self._conn.execute(
                f"SELECT {AUDIT_COLUMNS} FROM audit_log WHERE {clause}"
                " ORDER BY seq DESC LIMIT ? OFFSET ?",
                (*params, limit, offset),
            ).fetchall()
        return [audit_entry(row) for row in rows]

    def adherence(self, namespace: str, task: str | None) -> builtins.list[Adherence]:
        where, params = scope("?", namespace, task=task)
        with self._lock:
            rows = self._conn.execute(
                "SELECT task, tone, date(created_at, 'unixepoch') AS day, count(*),"
                f" sum(tone_carried) FROM audit_log WHERE {where} AND tone_carried IS NOT NULL"
                " GROUP BY task, tone, day ORDER BY task, tone, day",
                params,
            ).fetchall()
        return [Adherence(*row) for row in rows]

    def link_experience(self, namespace: str, entry_id: str, experience_id: str) -> None:
        with self._lock:
            self._conn.execute(
                "UPDATE audit_log SET experience_id = ? WHERE namespace = ? AND id = ?",
                (experience_id, namespace, entry_id),
            )

    # ---- monitor runs -------------------------------------------------------------------------
    def add_run(self, run: StoredRun) -> None:
        with self._lock:  # one statement: all of the run or none of it
            self._conn.execute(
                "INSERT INTO monitor_runs (id, namespace, task, created_at, result)"
                " VALUES (?, ?, ?, ?, ?)",
                (run.id, run.namespace, run.task, run.created_at, run.result),
            )

    def runs(self, namespace: str, task: str | None, limit: int) -> builtins.list[StoredRun]:
        where, params = scope("?", namespace, task=task)
        with self._lock:
            rows = self._conn.execute(
                "SELECT id, namespace, task, created_at, result FROM monitor_runs"
                f" WHERE {where} ORDER BY seq DESC LIMIT ?",
                (*params, limit),
            ).fetchall()
        return [StoredRun(*row) for row in rows]

    def namespaces(self) -> builtins.list[str]:
        with self._lock:
            return [row[0] for row in self._conn.execute(NAMESPACES).fetchall()]

    def close(self) -> None:
        with self._lock:
            self._conn.close()
