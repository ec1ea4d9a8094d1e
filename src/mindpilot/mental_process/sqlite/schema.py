"""The embedded store's schema as named migrations, applied in order, each exactly once.

Later issues (sessions, audit log, API keys) append their own `(name, sql)` to MIGRATIONS;
never edit or reorder one that has shipped.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from mindpilot import config
from mindpilot.errors import ConfigError, MindpilotError, StoreDamagedError

RECORDS = """
CREATE TABLE records (
    seq INTEGER PRIMARY KEY,            -- the vector index's id for this row
    namespace TEXT NOT NULL,
    id TEXT NOT NULL,
    kind TEXT NOT NULL,                 -- knowledge | emotion | experience
    domain TEXT,                        -- knowledge only
    task TEXT,                          -- emotion and experience only
    tags TEXT NOT NULL DEFAULT '[]',    -- JSON list of strings
    text TEXT NOT NULL,                 -- what FTS5 indexes (Record.search_text)
    body TEXT NOT NULL,                 -- the whole record as JSON (Record.to_dict)
    version INTEGER NOT NULL,
    created_at REAL NOT NULL,           -- unix seconds
    updated_at REAL NOT NULL,
    superseded_by TEXT,                 -- NULL = current (retrievable)
    embedding BLOB NOT NULL,            -- float32 (dim,), L2-normalised: the source of truth
    UNIQUE (namespace, id)
);
CREATE INDEX records_scope ON records (namespace, kind, superseded_by);
CREATE INDEX records_task ON records (namespace, task);
CREATE INDEX records_domain ON records (namespace, domain);
CREATE INDEX records_created ON records (namespace, created_at);

CREATE VIRTUAL TABLE records_fts USING fts5(
    text, content='records', content_rowid='seq', tokenize='porter unicode61'
);
CREATE TRIGGER records_ai AFTER INSERT ON records BEGIN
    INSERT INTO records_fts (rowid, text) VALUES (new.seq, new.text);
END;
CREATE TRIGGER records_ad AFTER DELETE ON records BEGIN
    INSERT INTO records_fts (records_fts, rowid, text) VALUES ('delete', old.seq, old.text);
END;
CREATE TRIGGER records_au AFTER UPDATE OF text ON records BEGIN
    INSERT INTO records_fts (records_fts, rowid, text) VALUES ('delete', old.seq, old.text);
    INSERT INTO records_fts (rowid, text) VALUES (new.seq, new.text);
END;

CREATE TABLE changes (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    namespace TEXT NOT NULL,
    record_id TEXT NOT NULL,            -- record id, or 'task:<name>'
    kind TEXT NOT NULL,
    op TEXT NOT NULL,
    actor TEXT NOT NULL,
    at REAL NOT NULL,
    batch INTEGER NOT NULL,             -- one call's changes; undo reverts a batch
    before TEXT,                        -- JSON of the state before, NULL for an addition
    after TEXT,                         -- JSON of the state after, NULL for a deletion
    before_vector BLOB,                 -- the before state's embedding, so undo need not re-embed
    undone INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX changes_record ON changes (namespace, record_id);
CREATE INDEX changes_batch ON changes (namespace, batch);

CREATE TABLE tasks (
    namespace TEXT NOT NULL,
    name TEXT NOT NULL,
    body TEXT NOT NULL,                 -- TaskProfile.to_dict as JSON
    PRIMARY KEY (namespace, name)
);

-- Bumped by every write transaction of a namespace, so another process's in-memory vector
-- index can tell it is stale.
CREATE TABLE namespace_state (
    namespace TEXT PRIMARY KEY,
    generation INTEGER NOT NULL
);

CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""

SESSIONS_AND_AUDIT = """
CREATE TABLE chat_sessions (
    id TEXT PRIMARY KEY,                -- "cs_" + 12 hex digits
    namespace TEXT NOT NULL,
    task TEXT,                          -- NULL: a chat without the Mental Process
    title TEXT NOT NULL DEFAULT '',
    created_at REAL NOT NULL,           -- unix seconds
    updated_at REAL NOT NULL
);
CREATE INDEX chat_sessions_scope ON chat_sessions (namespace, updated_at);

CREATE TABLE chat_turns (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,  -- conversation order
    session_id TEXT NOT NULL REFERENCES chat_sessions (id) ON DELETE CASCADE,
    role TEXT NOT NULL,                 -- system | user | assistant
    content TEXT NOT NULL,
    audit_id TEXT,                      -- the audit entry of an assistant turn
    created_at REAL NOT NULL
);
CREATE INDEX chat_turns_session ON chat_turns (session_id, seq);

-- One row per generation through the engine (monitor/audit.py).
CREATE TABLE audit_log (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,            -- "au_" + 12 hex digits
    namespace TEXT NOT NULL,
    task TEXT,
    session_id TEXT,                    -- the chat session, if any
    created_at REAL NOT NULL,
    request TEXT NOT NULL,              -- JSON [{role, content}]: the caller's messages
    prompt TEXT NOT NULL,               -- JSON [{role, content}]: the composed messages
    used TEXT NOT NULL,                 -- JSON [{id, kind, version, similarity, score}]
    response TEXT NOT NULL,
    tone TEXT,
    model TEXT NOT NULL,
    backend TEXT NOT NULL,
    finish_reason TEXT NOT NULL,
    prompt_tokens INTEGER NOT NULL,
    completion_tokens INTEGER NOT NULL,
    memory_tokens INTEGER NOT NULL,     -- prompt tokens the Mental Process added
    retrieval_s REAL NOT NULL,
    compose_s REAL NOT NULL,
    prompt_s REAL NOT NULL,             -- prefill
    decode_s REAL NOT NULL,
    experience_id TEXT                  -- the experience feedback on this entry wrote
);
CREATE INDEX audit_log_scope ON audit_log (namespace, seq);
CREATE INDEX audit_log_task ON audit_log (namespace, task, seq);
"""

# The task adapter an answer was made with (JSON {id, task, version}; NULL: the bare base).
AUDIT_ADAPTER = """
ALTER TABLE audit_log ADD COLUMN adapter TEXT;
"""

# How an answer relates to the records it took: its citations (JSON [{text, start, end,
# record_id, version, record_start, record_end, score}]), whether the task abstained (0/1) and
# the answer mode ("generate" | "extractive"). NULL in rows written before.
AUDIT_ANSWER = """
ALTER TABLE audit_log ADD COLUMN citations TEXT;
ALTER TABLE audit_log ADD COLUMN abstained INTEGER;
ALTER TABLE audit_log ADD COLUMN answer_mode TEXT;
"""

# `mindpilot monitor run`: one row per finished run (bias probes by condition, data-audit
# findings, the model, adapter and records it saw), JSON in `result`; written in one INSERT, so
# an interrupted run leaves nothing behind.
MONITOR_RUNS = """
CREATE TABLE monitor_runs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,            -- "mr_" + 12 hex digits
    namespace TEXT NOT NULL,
    task TEXT,
    created_at REAL NOT NULL,
    result TEXT NOT NULL
);
CREATE INDEX monitor_runs_scope ON monitor_runs (namespace, task, seq);
"""

# The tone an answer was asked for, how it was applied and how it scored (JSON ToneUse:
# {tone, intensity, control, vector, strength, note, measured, score, carried}), and whether it
# carried the tone (0/1; NULL: no tone asked, or not measurable), kept apart to filter by.
AUDIT_TONE = """
ALTER TABLE audit_log ADD COLUMN tone_use TEXT;
ALTER TABLE audit_log ADD COLUMN tone_carried INTEGER;
"""

# Ordered (name, sql); append only.
MIGRATIONS: list[tuple[str, str]] = [
    ("0001_mental_process_records", RECORDS),
    ("0002_sessions_and_audit", SESSIONS_AND_AUDIT),
    ("0003_audit_adapter", AUDIT_ADAPTER),
    ("0004_audit_answer", AUDIT_ANSWER),
    ("0005_monitor_runs", MONITOR_RUNS),
    ("0006_audit_tone", AUDIT_TONE),
]


def split_statements(sql: str) -> list[str]:
    """Split a script into statements (triggers' inner semicolons included)."""
    statements: list[str] = []
    current = ""
    for line in sql.splitlines(keepends=True):
        current += line
        if sqlite3.complete_statement(current):
            if current.strip():
                statements.append(current.strip())
            current = ""
    if current.strip():
        statements.append(current.strip())
    return statements


def connect(path: Path, *, busy_timeout_s: float = 30.0) -> sqlite3.Connection:
    """A migrated autocommit connection to a store file in WAL mode, for the tables that live
    beside the records (chat sessions, the audit log). Usable from any thread: callers lock."""
    conn = open_sqlite(path, busy_timeout_s=busy_timeout_s)
    conn.execute("PRAGMA foreign_keys = ON")
    migrated(conn, path)
    return conn


def open_sqlite(
    path: Path, *, busy_timeout_s: float = 30.0, wal: bool = True
) -> sqlite3.Connection:
    """An autocommit connection to `path` (created private, 0600), usable from any thread;
    a file SQLite cannot read is a `StoreDamagedError` naming it and the way back."""
    config.private_file(path)
    try:
        conn = sqlite3.connect(
            path, isolation_level=None, check_same_thread=False, timeout=busy_timeout_s
        )
        conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_s * 1000)}")
        if wal:
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute(f"PRAGMA synchronous = {config.synchronous()}")
    except sqlite3.DatabaseError as err:
        raise damaged(path, err) from None
    return conn


def migrated(
    conn: sqlite3.Connection, path: Path, migrations: list[tuple[str, str]] | None = None
) -> None:
    """`migrate`, with a damaged file said as such."""
    try:
        migrate(conn, MIGRATIONS if migrations is None else migrations)
    except sqlite3.DatabaseError as err:
        conn.close()
        raise damaged(path, err) from None


def damaged(path: Path, err: sqlite3.DatabaseError) -> MindpilotError:
    """The error for a file SQLite refused: damaged, not a database, or not writable."""
    text = str(err)
    if "readonly" in text or "unable to open" in text:
        return ConfigError(
            f"cannot write {path}: {text}", hint="check the file's and its folder's permissions"
        )
    return StoreDamagedError(
        f"{path} is damaged or not a mindpilot store ({text})",
        hint="restore a backup (`mindpilot memory restore BACKUP`), or move the file away to "
        "start an empty store; `mindpilot doctor` checks the whole installation",
    )


def migrate(conn: sqlite3.Connection, migrations: list[tuple[str, str]] = MIGRATIONS) -> list[str]:
    """Apply the migrations `conn` has not seen, in one transaction; returns their names.

    `conn` must be in autocommit mode (isolation_level=None)."""
    conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations"
        " (name TEXT PRIMARY KEY, applied_at REAL NOT NULL)"
    )
    conn.execute("BEGIN IMMEDIATE")
    try:
        done = {row[0] for row in conn.execute("SELECT name FROM schema_migrations")}
        applied = []
        for name, sql in migrations:
            if name in done:
                continue
            for statement in split_statements(sql):
                conn.execute(statement)
            conn.execute("INSERT INTO schema_migrations VALUES (?, ?)", (name, time.time()))
            applied.append(name)
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return applied
