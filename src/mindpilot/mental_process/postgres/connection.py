"""Connections of the PostgreSQL store: the URL (never shown with its password), the first
connection's clear errors, the psycopg 3 pool, the `vector` type as numpy arrays, and broken
connections turned into `StoreUnavailableError` (HTTP 503)."""

from __future__ import annotations

import struct
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import psycopg
from psycopg.adapt import Dumper, Loader
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg.pq import Format
from psycopg.types import TypeInfo
from psycopg_pool import ConnectionPool, PoolTimeout

from mindpilot.errors import ConfigError, StoreUnavailableError

CONNECT_TIMEOUT_S = 10


def redacted(url: str) -> str:
    """The URL or conninfo as it may be shown: host, port, user and database, no password."""
    try:
        parts = conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        return "postgresql://(an unreadable connection string)"
    host = parts.get("host") or "localhost"
    port = f":{parts['port']}" if parts.get("port") else ""
    user = f"{parts['user']}@" if parts.get("user") else ""
    return f"postgresql://{user}{host}{port}/{parts.get('dbname') or ''}"


def first_connection(url: str) -> psycopg.Connection:
    """An autocommit connection, or a clear error naming the server (never the password)."""
    where = redacted(url)
    try:
        conninfo = make_conninfo(url, connect_timeout=CONNECT_TIMEOUT_S)
    except psycopg.ProgrammingError:
        raise ConfigError(
            f"cannot read the PostgreSQL connection string {where}",
            hint="use postgresql://USER:PASSWORD@HOST:PORT/DATABASE",
        ) from None
    try:
        return psycopg.connect(conninfo, autocommit=True)
    except psycopg.OperationalError as err:
        raise StoreUnavailableError(
            f"cannot connect to PostgreSQL at {where}: {_reason(err, url)}",
            hint="check that the server runs and accepts connections from here, and the "
            "user, password and database in the URL (--store, MINDPILOT_STORE)",
        ) from None


def _reason(err: BaseException, url: str) -> str:
    """The driver's words, first line, with the password taken out should it appear."""
    text = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    password = conninfo_to_dict(url).get("password")
    return text.replace(str(password), "***") if password else text


# ---- the vector type as numpy arrays (pgvector's binary format: dim, unused, float32 BE) ------
class VectorDumper(Dumper):
    format = Format.BINARY

    def dump(self, obj: Any) -> bytes:
        vector = np.asarray(obj, dtype=">f4").reshape(-1)
        return struct.pack(">HH", len(vector), 0) + vector.tobytes()


class VectorLoader(Loader):
    format = Format.BINARY

    def load(self, data: Any) -> np.ndarray:
        return np.frombuffer(bytes(data)[4:], dtype=">f4").astype(np.float32)


def register_vector(conn: psycopg.Connection) -> None:
    """Send numpy arrays as `vector` (`%b` placeholders) and read `vector` columns of binary
    results as (dim,) float32 arrays."""
    info = TypeInfo.fetch(conn, "vector")
    if info is None:  # migrate() creates the extension before the pool opens
        raise ConfigError("the pgvector extension ('vector') is missing from the database")
    dumper = type("NumpyVectorDumper", (VectorDumper,), {"oid": info.oid})
    conn.adapters.register_dumper(np.ndarray, dumper)
    conn.adapters.register_loader(info.oid, VectorLoader)


class Connections:
    """The pool, and `use()`: one connection for one request, a broken one said as 503."""

    def __init__(self, url: str, *, max_size: int, timeout_s: float = 10.0) -> None:
        self.where = redacted(url)
        self._url = url
        self.pool = ConnectionPool(
            make_conninfo(url, connect_timeout=CONNECT_TIMEOUT_S),
            min_size=1,
            max_size=max_size,
            # never prepared: after 5 runs PostgreSQL may switch a prepared statement to a
            # generic plan, which for the keyword query (namespace and words unknown) took
            # 20 ms where a plan for the actual values takes 6 ms (5k records)
            kwargs={"autocommit": True, "prepare_threshold": None},
            configure=register_vector,
            # no check on checkout (a round trip each time): a connection the server dropped
            # fails its request as StoreUnavailableError (503, rolled back, safe to retry) and
            # the pool replaces it
            timeout=timeout_s,
            name="mindpilot",
            open=False,
        )
        self.pool.open(wait=True, timeout=timeout_s)

    @contextmanager
    def use(self) -> Iterator[psycopg.Connection]:
        try:
            with self.pool.connection() as conn:
                yield conn
        except PoolTimeout as err:
            raise StoreUnavailableError(
                f"no connection to PostgreSQL at {self.where} within the pool's timeout "
                f"({_reason(err, self._url)})",
                hint="check that the server runs; the request changed nothing, retry it",
            ) from None
        except psycopg.OperationalError as err:
            raise StoreUnavailableError(
                f"lost the connection to PostgreSQL at {self.where}: {_reason(err, self._url)}",
                hint="the request's transaction was rolled back; retry it",
            ) from None

    def close(self) -> None:
        self.pool.close()
