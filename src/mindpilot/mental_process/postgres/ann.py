"""The HNSW index of the PostgreSQL store, built when it starts to pay and without blocking.

pgvector keeps an HNSW graph up to date on every insert, and that is the cost of a write here:
~4 ms a record on 2 busy cores (384-d, m=16, ef_construction=64), 20x the rest of the insert,
while a search below a few thousand rows is as fast by exact scan. So the index is not made
with the table: the first search that finds more rows than the store's `ann_threshold` starts
`CREATE INDEX CONCURRENTLY` on a connection of its own, in a background thread (writes and
searches go on, searches exact), and every process uses the index once PostgreSQL marks it
valid. One process builds at a time (an advisory lock); a build cut short (its process ended)
leaves an invalid index that the next builder drops and builds again. `build(wait=True)` does it
now, e.g. after a bulk load; a database owner may also create it by hand (docs/postgres.md).
"""

from __future__ import annotations

import threading

import psycopg

NAME = "records_embedding"
CREATE = (
    f"CREATE INDEX CONCURRENTLY {NAME} ON records USING hnsw (embedding vector_ip_ops)"
    " WITH (m = 16, ef_construction = 64) WHERE superseded_by IS NULL"
)
VALID = (
    "SELECT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
    " WHERE c.relname = %s AND i.indrelid = 'records'::regclass"
)
LOCK = "hashtext('mindpilot.hnsw')"


class AnnIndex:
    """Whether the HNSW index is usable, and its (one) background build in this process."""

    def __init__(self, conninfo: str) -> None:
        self._conninfo = conninfo
        self._ready = False
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.error: BaseException | None = None  # the last background build's failure

    def ready(self, conn: psycopg.Connection) -> bool:
        """True once the index exists and is valid (then remembered)."""
        if not self._ready:
            row = conn.execute(VALID, (NAME,)).fetchone()
            self._ready = bool(row and row[0])
        return self._ready

    def build_soon(self) -> None:
        """Start the build in the background unless one runs here already."""
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return
            self._thread = threading.Thread(target=self._build_logged, daemon=True,
                                            name="mindpilot-hnsw")  # fmt: skip
            self._thread.start()

    def _build_logged(self) -> None:
        try:
            self.build()
        except psycopg.Error as err:  # kept for `error`; searches stay exact meanwhile
            self.error = err

    def build(self) -> bool:
        """Build the index now unless another process is building it; True if it is valid."""
        with psycopg.connect(self._conninfo, autocommit=True) as conn:
            row = conn.execute(f"SELECT pg_try_advisory_lock({LOCK})").fetchone()
            if not (row and row[0]):
                return False
            try:
                found = conn.execute(VALID, (NAME,)).fetchone()
                if found is not None and not found[0]:  # a build cut short
                    conn.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {NAME}")
                if found is None or not found[0]:
                    conn.execute("SET maintenance_work_mem = '256MB'")
                    conn.execute(CREATE)
                self._ready = True
                return True
            finally:
                conn.execute(f"SELECT pg_advisory_unlock({LOCK})")
