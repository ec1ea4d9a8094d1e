"""Search and list scopes of the PostgreSQL store as an SQL WHERE clause over alias `r`, with
the same meaning as the SQLite store's (sqlite/filters.py `filters`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from mindpilot.errors import ValidationError
from mindpilot.mental_process.records import KINDS, check_namespace


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
    """WHERE clause and parameters. strict: `domains`/`tasks` keep only records that have one
    of them (list); otherwise they only restrict the kinds that carry the field (search)."""
    check_namespace(namespace)
    clauses: list[str] = ["r.namespace = %s"]
    params: list[Any] = [namespace]
    if current:
        clauses.append("r.superseded_by IS NULL")
    if kinds is not None:
        unknown = sorted(set(kinds) - set(KINDS))
        if unknown or isinstance(kinds, str):
            raise ValidationError(f"unknown kind(s) {unknown or kinds}", hint=f"use {KINDS}")
        clauses.append("r.kind = ANY(%s)")
        params.append(list(kinds))
    for column, values, kind_test in (
        ("domain", domains, "r.kind != 'knowledge'"),
        ("task", tasks, "r.kind = 'knowledge'"),
    ):
        if values is not None:
            test = f"r.{column} = ANY(%s)"
            clauses.append(test if strict else f"({kind_test} OR {test})")
            params.append([str(v) for v in values])
    if tags:
        clauses.append("r.tags @> %s::text[]")
        params.append(list(dict.fromkeys(tags)))
    if since is not None:
        clauses.append("r.created_at >= %s")
        params.append(float(since))
    if until is not None:
        clauses.append("r.created_at < %s")
        params.append(float(until))
    return " AND ".join(clauses), params
