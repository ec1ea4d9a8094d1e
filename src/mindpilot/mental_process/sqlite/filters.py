"""Search and list scopes of the SQLite store: as an SQL WHERE clause (`filters`), and as a
numpy test over the vector index's row attributes (`NameCodes`, `row_filter`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from mindpilot.errors import ValidationError
from mindpilot.mental_process.records import KINDS, check_namespace

# ---- in-memory scope filter for the vector index ----------------------------------------------
# Each index row carries (kind code, domain code, task code); names are interned per store
# (-1 = none), so a kinds/domains/tasks filter is a few numpy comparisons over the rows
# instead of an SQL query that lists every permitted seq (~8 ms at 100k records).
KIND_CODES: dict[str, int] = {kind: code for code, kind in enumerate(KINDS)}
ATTRIBUTES = 3


class NameCodes:
    """Domain and task names as small ints, assigned on first sight (callers hold a lock)."""

    def __init__(self) -> None:
        self._codes: dict[str, int] = {}

    def code(self, name: str | None) -> int:
        if name is None:
            return -1
        return self._codes.setdefault(name, len(self._codes))

    def known(self, names: Sequence[str]) -> np.ndarray:
        """Codes of the names seen so far (a name never seen matches no row)."""
        return np.array([self._codes[n] for n in names if n in self._codes], dtype=np.int64)

    def attributes(self, kind: str, domain: str | None, task: str | None) -> tuple[int, ...]:
        return (KIND_CODES[kind], self.code(domain), self.code(task))


@dataclass(frozen=True)
class RowTest:
    """The search filter of `filters(strict=False)` for kinds/domains/tasks, over index rows'
    attributes (n, 3) -> (n,) bool. A value (equal for the same scope), so the vector index
    keeps the rows it passes until the index changes."""

    kinds: tuple[int, ...]
    domains: tuple[int, ...] | None  # None: any domain
    tasks: tuple[int, ...] | None

    def __call__(self, attrs: np.ndarray) -> np.ndarray:
        kind = attrs[:, 0]
        mask = np.isin(kind, self.kinds)
        knowledge = KIND_CODES["knowledge"]
        if self.domains is not None:
            mask &= (kind != knowledge) | np.isin(attrs[:, 1], self.domains)
        if self.tasks is not None:
            mask &= (kind == knowledge) | np.isin(attrs[:, 2], self.tasks)
        return mask


def row_filter(
    codes: NameCodes,
    kinds: Sequence[str],
    domains: Sequence[str] | None,
    tasks: Sequence[str] | None,
) -> RowTest:
    """The `RowTest` of a search scope. Call `filters` first: it validates the arguments."""
    return RowTest(
        tuple(sorted({KIND_CODES[k] for k in kinds})),
        None if domains is None else tuple(sorted(set(codes.known(domains).tolist()))),
        None if tasks is None else tuple(sorted(set(codes.known(tasks).tolist()))),
    )


def filters(
    namespace: str,
    *,
    kinds: Sequence[str] | None,
    domains: Sequence[str] | None,
    tasks: Sequence[str] | None,
    tags: Sequence[str],
    since: float | None,
    until: float | None,
    strict: bool,
    current: bool,
) -> tuple[str, list[Any]]:
    """SQL WHERE over alias `r`, and its parameters.

    strict: `domains`/`tasks` keep only records that have one of them (list); otherwise they
    only restrict the kinds that carry the field (search)."""
    check_namespace(namespace)
    clauses: list[str] = ["r.namespace = ?"]
    params: list[Any] = [namespace]
    if current:
        clauses.append("r.superseded_by IS NULL")
    if kinds is not None:
        unknown = sorted(set(kinds) - set(KINDS))
        if unknown or isinstance(kinds, str):
            raise ValidationError(f"unknown kind(s) {unknown or kinds}", hint=f"use {KINDS}")
        clauses.append(f"r.kind IN ({','.join('?' * len(kinds))})")
        params += kinds
    for column, values, kind_test in (
        ("domain", domains, "r.kind != 'knowledge'"),
        ("task", tasks, "r.kind = 'knowledge'"),
    ):
        if values is not None:
            marks = ",".join("?" * len(values))
            test = f"r.{column} IN ({marks})" if values else "0"
            clauses.append(test if strict else f"({kind_test} OR {test})")
            params += values
    if tags:
        tags = list(dict.fromkeys(tags))
        clauses.append(
            "(SELECT count(DISTINCT value) FROM json_each(r.tags)"
            f" WHERE value IN ({','.join('?' * len(tags))})) = ?"
        )
        params += [*tags, len(tags)]
    if since is not None:
        clauses.append("r.created_at >= ?")
        params.append(since)
    if until is not None:
        clauses.append("r.created_at < ?")
        params.append(until)
    return " AND ".join(clauses), params
