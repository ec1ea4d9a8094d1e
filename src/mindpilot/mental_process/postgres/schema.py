"""The PostgreSQL store's schema as named migrations, applied in order, each exactly once (as
in the SQLite store: never edit or reorder one that has shipped), and the checks made on
opening a database: pgvector present, schema not newer than this code.

The `embedding` column has no dimension until the store's embedder is known: binding it
(`bind_embedder`) fixes `vector(dim)`, once per database; the HNSW index comes later (ann.py).
"""

from __future__ import annotations

import time

import psycopg

from mindpilot.errors import ConfigError

# A text search configuration like FTS5's "porter unicode61": English stemming, no stopwords in
# the index (the query leaves them out, as the SQLite store does: search_terms.STOPWORDS).
TEXT_SEARCH = """
CREATE TEXT SEARCH DICTIONARY mindpilot_stem (TEMPLATE = snowball, Language = english);
CREATE TEXT SEARCH CONFIGURATION mindpilot (COPY = english);
ALTER TEXT SEARCH CONFIGURATION mindpilot ALTER MAPPING
    FOR asciiword, asciihword, hword_asciipart, word, hword, hword_part WITH mindpilot_stem;
"""

RECORDS = """
CREATE TABLE records (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    namespace TEXT NOT NULL,
    id TEXT NOT NULL,
    kind TEXT NOT NULL,                 -- knowledge | emotion | experience
    domain TEXT,                        -- knowledge only
    task TEXT,                          -- emotion and experience only
    tags TEXT[] NOT NULL DEFAULT '{}',
    text TEXT NOT NULL,                 -- what keyword search reads (Record.search_text)
    body TEXT NOT NULL,                 -- the whole record as JSON (Record.to_dict)
    version INTEGER NOT NULL,
    created_at DOUBLE PRECISION NOT NULL,  -- unix seconds
    updated_at DOUBLE PRECISION NOT NULL,
    superseded_by TEXT,                 -- NULL = current (retrievable)
    embedding vector NOT NULL,          -- L2-normalised; vector(dim) once the embedder is bound
    words tsvector GENERATED ALWAYS AS (to_tsvector('mindpilot', text)) STORED,
    UNIQUE (namespace, id)
);
CREATE INDEX records_scope ON records (namespace, kind, superseded_by);
CREATE INDEX records_task ON records (namespace, task);
CREATE INDEX records_domain ON records (namespace, domain);
CREATE INDEX records_created ON records (namespace, created_at);
CREATE INDEX records_words ON records USING gin (words);

CREATE TABLE changes (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    namespace TEXT NOT NULL,
    record_id TEXT NOT NULL,            -- record id, or 'task:<name>'
    kind TEXT NOT NULL,
    op TEXT NOT NULL,
    actor TEXT NOT NULL,
    at DOUBLE PRECISION NOT NULL,
    batch BIGINT NOT NULL,              -- one call's changes; undo reverts a batch
    before TEXT,
    after TEXT,
    before_vector BYTEA,                -- float32 bytes of the before state's embedding
    undone BOOLEAN NOT NULL DEFAULT false
);
CREATE INDEX changes_record ON changes (namespace, record_id);
CREATE INDEX changes_batch ON changes (namespace, batch);

CREATE TABLE tasks (
    namespace TEXT NOT NULL,
    name TEXT NOT NULL,
    body TEXT NOT NULL,                 -- TaskProfile.to_dict as JSON
    PRIMARY KEY (namespace, name)
);

-- One row per namespace: every write transaction locks it first (so the writes of one
-- namespace are serialized, those of different namespaces run in parallel) and takes the
-- next batch number from it.
CREATE TABLE namespace_state (
    namespace TEXT PRIMARY KEY,
    batch BIGINT NOT NULL
);

CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""

# Each namespace's number of current records, kept by a trigger (on the namespace_state row
# its write transaction has locked already): search decides between the exact scan and the
# HNSW index by it. Counting the rows at each search cost ~5 ms at 5k records.
LIVE_COUNTS = """
ALTER TABLE namespace_state ADD COLUMN live BIGINT NOT NULL DEFAULT 0;
UPDATE namespace_state s SET live = (
    SELECT count(*) FROM records r WHERE r.namespace = s.namespace AND r.superseded_by IS NULL);
CREATE FUNCTION mindpilot_count_live() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.superseded_by IS NULL THEN
        UPDATE namespace_state SET live = live - 1 WHERE namespace = OLD.namespace;
    END IF;
    IF TG_OP IN ('UPDATE', 'INSERT') AND NEW.superseded_by IS NULL THEN
        UPDATE namespace_state SET live = live + 1 WHERE namespace = NEW.namespace;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER records_live AFTER INSERT OR DELETE OR UPDATE OF namespace, superseded_by
    ON records FOR EACH ROW EXECUTE FUNCTION mindpilot_count_live();
"""

# The journal (mental_process/journal.py, postgres/journal.py): chat sessions and their turns,
# the audit log of every answer, and monitor runs; namespaced like the records (each row names
# its namespace, and its id is unique within it). The list columns of the audit log hold JSON
# text, as on SQLite, so one codec reads both; a run is one row, its whole result as JSON.
JOURNAL = """
CREATE TABLE chat_sessions (
    seq BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE,  -- creation order (ties of updated_at)
    namespace TEXT NOT NULL,
    id TEXT NOT NULL,                   -- "cs_" + 12 hex digits
    task TEXT,                          -- NULL: a chat without the Mental Process
    title TEXT NOT NULL DEFAULT '',
    created_at DOUBLE PRECISION NOT NULL,  -- unix seconds
    updated_at DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (namespace, id)
);
CREATE INDEX chat_sessions_scope ON chat_sessions (namespace, updated_at);

CREATE TABLE chat_turns (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,  -- conversation order
    namespace TEXT NOT NULL,
    session_id TEXT NOT NULL,
    role TEXT NOT NULL,                 -- system | user | assistant
    content TEXT NOT NULL,
    audit_id TEXT,                      -- the audit entry of an assistant turn
    created_at DOUBLE PRECISION NOT NULL,
    FOREIGN KEY (namespace, session_id) REFERENCES chat_sessions (namespace, id)
        ON DELETE CASCADE
);
CREATE INDEX chat_turns_session ON chat_turns (namespace, session_id, seq);

CREATE TABLE audit_log (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    namespace TEXT NOT NULL,
    id TEXT NOT NULL,                   -- "au_" + 12 hex digits
    task TEXT,
    session_id TEXT,                    -- the chat session, if any
    created_at DOUBLE PRECISION NOT NULL,
    request TEXT NOT NULL,              -- JSON [{role, content}]: the caller's messages
    prompt TEXT NOT NULL,               -- JSON [{role, content}]: the composed messages
    used TEXT NOT NULL,                 -- JSON [{id, kind, version, similarity, ...}]
    response TEXT NOT NULL,
    tone TEXT,
    model TEXT NOT NULL,
    backend TEXT NOT NULL,
    finish_reason TEXT NOT NULL,
    prompt_tokens INTEGER NOT NULL,
    completion_tokens INTEGER NOT NULL,
    memory_tokens INTEGER NOT NULL,     -- prompt tokens the Mental Process added
    retrieval_s DOUBLE PRECISION NOT NULL,
    compose_s DOUBLE PRECISION NOT NULL,
    prompt_s DOUBLE PRECISION NOT NULL, -- prefill
    decode_s DOUBLE PRECISION NOT NULL,
    experience_id TEXT,                 -- the experience feedback on this entry wrote
    adapter TEXT,                       -- JSON {id, task, version}; NULL: the bare base
    citations TEXT NOT NULL,            -- JSON [{text, start, end, record_id, ...}]
    abstained BOOLEAN NOT NULL,
    answer_mode TEXT NOT NULL,          -- generate | extractive
    tone_use TEXT,                      -- JSON ToneUse; NULL: no tone asked
    tone_carried BOOLEAN,               -- NULL: no tone asked, or not measurable
    UNIQUE (namespace, id)
);
CREATE INDEX audit_log_scope ON audit_log (namespace, seq);
CREATE INDEX audit_log_task ON audit_log (namespace, task, seq);

CREATE TABLE monitor_runs (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    namespace TEXT NOT NULL,
    id TEXT NOT NULL,                   -- "mr_" + 12 hex digits
    task TEXT,
    created_at DOUBLE PRECISION NOT NULL,
    result TEXT NOT NULL,               -- JSON MonitorRun.to_dict
    UNIQUE (namespace, id)
);
CREATE INDEX monitor_runs_scope ON monitor_runs (namespace, task, seq);
"""

# Keyword search reads a narrow copy of each record's words and filter columns: matching a
# common word in the records table itself visited one ~1.7 KB row (its vector inline) per
# match, mostly a page each (100k records: 2,500 pages, 15 ms for one word); here ~40 rows
# share a page. A trigger keeps it in step with `records` inside the writing transaction; the
# records' own `words` column and its index go (the tsvector is computed once, here).
RECORD_WORDS = """
CREATE TABLE record_words (
    seq BIGINT PRIMARY KEY,             -- records.seq
    namespace TEXT NOT NULL,            -- the filter columns of records, same names, so one
    kind TEXT NOT NULL,                 -- WHERE clause (filters.py) serves both tables
    domain TEXT,
    task TEXT,
    tags TEXT[] NOT NULL,
    created_at DOUBLE PRECISION NOT NULL,
    superseded_by TEXT,
    words tsvector NOT NULL             -- to_tsvector('mindpilot', records.text)
);
INSERT INTO record_words
    SELECT seq, namespace, kind, domain, task, tags, created_at, superseded_by, words
    FROM records;
ALTER TABLE records DROP COLUMN words;
CREATE INDEX record_words_words ON record_words USING gin (words);
CREATE FUNCTION mindpilot_record_words() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        DELETE FROM record_words WHERE seq = OLD.seq;
    ELSIF TG_OP = 'INSERT' THEN
        INSERT INTO record_words VALUES (NEW.seq, NEW.namespace, NEW.kind, NEW.domain, NEW.task,
            NEW.tags, NEW.created_at, NEW.superseded_by, to_tsvector('mindpilot', NEW.text));
    ELSE
        UPDATE record_words SET namespace = NEW.namespace, kind = NEW.kind, domain = NEW.domain,
            task = NEW.task, tags = NEW.tags, created_at = NEW.created_at,
            superseded_by = NEW.superseded_by,
            words = CASE WHEN NEW.text IS DISTINCT FROM OLD.text
                         THEN to_tsvector('mindpilot', NEW.text) ELSE words END
        WHERE seq = OLD.seq;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER records_words AFTER INSERT OR DELETE OR UPDATE ON records
    FOR EACH ROW EXECUTE FUNCTION mindpilot_record_words();
-- the word shares of keyword search (keywords.py) come from these statistics: without them
-- no word would count as common until autovacuum's first ANALYZE
ANALYZE record_words;
"""

# Ordered (name, sql); append only.
MIGRATIONS: list[tuple[str, str]] = [
    ("0001_text_search", TEXT_SEARCH),
    ("0002_mental_process_records", RECORDS),
    ("0003_live_counts", LIVE_COUNTS),
    ("0004_sessions_audit_and_monitor_runs", JOURNAL),
    ("0005_record_words", RECORD_WORDS),
]


def ensure_pgvector(conn: psycopg.Connection, where: str) -> None:
    """Create the `vector` extension if it is missing; a clear error if the server lacks it or
    this user may not create it."""
    if conn.execute("SELECT 1 FROM pg_extension WHERE extname = 'vector'").fetchone():
        return
    if not conn.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'vector'").fetchone():
        raise ConfigError(
            f"the PostgreSQL server at {where} has no pgvector extension ('vector')",
            hint="install pgvector on the server (https://github.com/pgvector/pgvector), "
            "then run CREATE EXTENSION vector in the database",
        )
    try:
        conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
    except psycopg.errors.InsufficientPrivilege:
        raise ConfigError(
            f"the database at {where} lacks the pgvector extension ('vector') and this user "
            "may not create it",
            hint="ask the database owner or a superuser to run CREATE EXTENSION vector in it",
        ) from None


def migrate(
    conn: psycopg.Connection, where: str, migrations: list[tuple[str, str]] = MIGRATIONS
) -> list[str]:
    """Apply the migrations the database has not seen, in one transaction (an advisory lock
    keeps two processes from migrating at once); returns their names. Refuses a database
    migrated by a newer mindpilot. `conn` is in autocommit mode."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(hashtext('mindpilot.migrate'))")
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations"
            " (name TEXT PRIMARY KEY, applied_at DOUBLE PRECISION NOT NULL)"
        )
        done = {row[0] for row in conn.execute("SELECT name FROM schema_migrations")}
        known = {name for name, _ in migrations}
        if done - known:
            newer = max(done - known)
            raise ConfigError(
                f"the database at {where} has schema version {newer!r}, newer than this "
                f"mindpilot knows (up to {migrations[-1][0]!r})",
                hint="upgrade mindpilot (pip install -U mindpilot); nothing was changed",
            )
        applied = []
        for name, sql in migrations:
            if name not in done:
                conn.execute(sql)  # several statements: psycopg sends them as one script
                conn.execute("INSERT INTO schema_migrations VALUES (%s, %s)", (name, time.time()))
                applied.append(name)
    return applied


def bind_embedder(conn: psycopg.Connection, tag: str, dim: int) -> str:
    """Record the store's embedder ("name:dim") on first use, fixing the vector column's
    dimension; returns the tag the database holds. Vectors are stored inline (PLAIN): a
    1.5 KB vector moved out of line (TOAST) made an exact scan ~3x slower."""
    with conn.transaction():
        inserted = conn.execute(
            "INSERT INTO meta VALUES ('embedder', %s) ON CONFLICT (key) DO NOTHING RETURNING 1",
            (tag,),
        ).fetchone()
        if inserted:
            conn.execute(f"ALTER TABLE records ALTER COLUMN embedding TYPE vector({int(dim)})")
            conn.execute("ALTER TABLE records ALTER COLUMN embedding SET STORAGE PLAIN")
        row = conn.execute("SELECT value FROM meta WHERE key = 'embedder'").fetchone()
    assert row is not None
    return str(row[0])
