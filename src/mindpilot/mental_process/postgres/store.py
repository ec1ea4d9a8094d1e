"""The scale-out store: PostgreSQL (records, history, tasks) with pgvector for vectors and
PostgreSQL full-text search for keywords; several processes and machines share one database.

`PostgresStore` is assembled from one mixin per concern, all on `PostgresBase` (the pool,
the embedder, transactions), mirroring the SQLite store:

    RecordMethods   records.py   records and task profiles (CRUD, import)
    SearchMethods   search.py    hybrid, keyword and vector search
    HistoryMethods  history.py   history, undo, delete_scope
    TransferMethods transfer.py  one namespace copied out or in exactly (`memory migrate`)
    Rows            rows.py      the row operations inside a write transaction
    PostgresJournal journal.py   chat sessions, the audit log, monitor runs (`journal()`)

Open it with `open_store("postgresql://user:password@host:5432/db")` (or `--store`,
MINDPILOT_STORE). docs/postgres.md says what the database needs.
"""

from __future__ import annotations

from mindpilot.mental_process.journal import Journal
from mindpilot.mental_process.postgres.history import HistoryMethods
from mindpilot.mental_process.postgres.journal import PostgresJournal
from mindpilot.mental_process.postgres.search import SearchMethods
from mindpilot.mental_process.postgres.transfer import TransferMethods


class PostgresStore(SearchMethods, HistoryMethods, TransferMethods):
    """The PostgreSQL + pgvector store. Thread-safe; any number of processes may share it."""

    def journal(self) -> Journal:
        """Sessions, the audit log and monitor runs, in this database (postgres/journal.py),
        on the store's connection pool."""
        return PostgresJournal(self._db)
