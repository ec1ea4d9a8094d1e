"""How the store backends write values into rows and read them back: records and task
profiles as JSON text, `changes` rows as `Change`, caller-given vectors as unit rows; and how
both stamp a new record and refuse an id already taken."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import numpy as np

from mindpilot.errors import ConflictError, ValidationError
from mindpilot.mental_process.records import (
    Change,
    Record,
    TaskProfile,
    new_id,
    record_from_dict,
)


def stamped_new(record: Record, at: float) -> Record:
    """A new record as stored: its id (a fresh one unless given), version 1, both times `at`."""
    return dataclasses.replace(
        record, id=record.id or new_id(record.kind), version=1, created_at=at, updated_at=at
    )


def id_taken(record_id: str, namespace: str) -> ConflictError:
    """The error for a new record whose given id the namespace already holds."""
    return ConflictError(
        f"record {record_id!r} already exists in namespace {namespace!r}",
        hint="leave id empty to get a fresh one, or use update",
    )


def to_json(item: Record | TaskProfile | None) -> str | None:
    return None if item is None else json.dumps(item.to_dict(), ensure_ascii=False)


def from_json(text: str | None) -> Any:
    return None if text is None else record_from_dict(json.loads(text))


@lru_cache(maxsize=4096)
def record_from_body(body: str) -> Any:
    """`from_json` for search hits, memoised on the row's JSON text: rebuilding and validating
    a record took ~65 us, two thirds of a 10k-record search's hydration. Safe to share:
    records are frozen and hold only immutable values; a changed row has a different text."""
    return from_json(body)


CHANGE_COLUMNS = "seq, namespace, record_id, kind, op, actor, at, batch, before, after, undone"


def change_from_row(row: Sequence[Any]) -> Change:
    seq, namespace, record_id, kind, op, actor, at, batch, before, after, undone = row
    return Change(
        seq=seq, namespace=namespace, record_id=record_id, kind=kind, op=op, actor=actor, at=at,
        batch=batch, before=from_json(before), after=from_json(after), undone=bool(undone),
    )  # fmt: skip


def check_unique(names: Sequence[str], what: str) -> None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise ValidationError(f"{what} {name!r} appears twice", hint="keep one of them")
        seen.add(name)


def unit_rows(vectors: object, n: int, dim: int) -> np.ndarray:
    """Caller-given vectors checked and L2-normalised: (n, dim) float32, C-contiguous."""
    matrix = np.asarray(vectors, dtype=np.float32)
    if matrix.shape != (n, dim):
        raise ValidationError(
            f"vectors have shape {matrix.shape}, expected ({n}, {dim}): one row per record"
        )
    if not np.isfinite(matrix).all():
        raise ValidationError("vectors contain NaN or infinity")
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)  # (n, 1)
    if (norms == 0).any():
        raise ValidationError(
            f"vector row {int(np.flatnonzero(norms[:, 0] == 0)[0])} is all zeros",
            hint="every record needs a real embedding",
        )
    return np.ascontiguousarray(matrix / norms, dtype=np.float32)
