"""The embedded store: one SQLite file (WAL), FTS5 for keywords, float32 blobs for vectors.

SQLite is the source of truth; each namespace's vector index is derived from the blobs
(vectors.py). `SQLiteStore` is assembled from one mixin per concern, all on `SQLiteBase`
(the connection, the lock, the embedder):

    RecordMethods   records.py   records and task profiles (CRUD, import)
    SearchMethods   search.py    hybrid, keyword and vector search
    HistoryMethods  history.py   history, undo, delete_scope
    TransferMethods transfer.py  one namespace copied out or in exactly (`memory migrate`)
    BackupMethods   backup.py    online backups, integrity checks (restore: a function there)
    Rows            rows.py      write transactions and the row operations inside them
    VectorCache     vectors.py   the per-namespace vector indexes and generation counter
    SQLiteJournal   journal.py   chat sessions, the audit log, monitor runs (`journal()`)
"""

from __future__ import annotations

from pathlib import Path

from mindpilot.mental_process.journal import Journal
from mindpilot.mental_process.sqlite.backup import BackupMethods
from mindpilot.mental_process.sqlite.history import HistoryMethods
from mindpilot.mental_process.sqlite.journal import SQLiteJournal
from mindpilot.mental_process.sqlite.records import RecordMethods
from mindpilot.mental_process.sqlite.search import SearchMethods
from mindpilot.mental_process.sqlite.transfer import TransferMethods


class SQLiteStore(RecordMethods, SearchMethods, HistoryMethods, BackupMethods, TransferMethods):
    """The embedded store. Thread-safe (one connection behind a lock); several processes may
    share the file (WAL; writers wait up to `busy_timeout_s` for each other)."""

    @property
    def sqlite_path(self) -> Path:
        return self.path

    def journal(self) -> Journal:
        """Sessions, the audit log and monitor runs, in this file (sqlite/journal.py)."""
        return SQLiteJournal(self.path)

    def close(self) -> None:
        with self._lock:
            self._conn.close()
            self._indexes.clear()
