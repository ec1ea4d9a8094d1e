"""The scale-out store on PostgreSQL + pgvector, one module per concern (see store.py), and
a throwaway local server for tests and benchmarks (local_server.py)."""

from __future__ import annotations

from mindpilot.mental_process.postgres.store import PostgresStore

__all__ = ["PostgresStore"]
