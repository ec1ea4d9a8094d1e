"""The scale-out store on PostgreSQL + pgvector, one module per concern (see store.py), and
a throwaway local server for tests and benchmarks (local_server.py)."""

from __future__ import annotations

try:
    import psycopg  # noqa: F401 - the driver every module here needs
    import psycopg_pool  # noqa: F401
except ImportError:  # the entry point loads this package: say what to install, once
    from mindpilot.errors import ConfigError

    raise ConfigError(
        "the PostgreSQL store needs psycopg 3 and its pool, which are not installed",
        hint="pip install 'mindpilot[postgres]'",
    ) from None

from mindpilot.mental_process.postgres.store import PostgresStore

__all__ = ["PostgresStore"]
