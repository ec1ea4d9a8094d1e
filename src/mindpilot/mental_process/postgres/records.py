"""Records and task profiles of the PostgreSQL store: add, get, update, supersede, delete,
list; the task profile CRUD; and bulk import."""

from __future__ import annotations

import builtins
import dataclasses
import time
from collections.abc import Sequence

import numpy as np

from mindpilot.errors import ConflictError, NotFoundError, ValidationError
from mindpilot.mental_process.postgres.filters import filters
from mindpilot.mental_process.postgres.rows import Rows
from mindpilot.mental_process.records import (
    UPDATABLE,
    Emotion,
    Experience,
    Kind,
    Knowledge,
    Record,
    TaskProfile,
    check_namespace,
    new_id,
)
from mindpilot.mental_process.row_codecs import check_unique, from_json, unit_rows

ANALYZE_AFTER = 1_000  # records one add_many call writes before it refreshes the statistics


class RecordMethods(Rows):
    """The `Store` methods that create, read, change and delete records and task profiles."""

    # ---- records ----------------------------------------------------------------------------
    def add(self, record: Record, *, actor: str = "user") -> Record:
        return self.add_many([record], actor=actor)[0]

    def add_many(
        self,
        records: Sequence[Record],
        *,
        actor: str = "user",
        progress: bool = False,
        vectors: np.ndarray | None = None,
    ) -> builtins.list[Record]:
        records = list(records)
        if not records:
            return []
        for record in records:
            if not isinstance(record, Knowledge | Emotion | Experience):
                raise ValidationError(
                    f"cannot store a {type(record).__name__}", hint="pass records"
                )
            self._check_size(record)
        namespaces = {r.namespace for r in records}
        if len(namespaces) > 1:
            raise ValidationError(
                f"add_many got records of {len(namespaces)} namespaces",
                hint="call it once per namespace",
            )
        if vectors is None:
            vectors = self._embed([r.embed_text for r in records], progress=progress)
        else:
            vectors = unit_rows(vectors, len(records), self.embedder.dim)
        if any(isinstance(r, Emotion) for r in records):  # each supersedes the last: one by one
            with self._write(records[0].namespace, actor) as batch:
                stored = [
                    self._insert_new(batch, r, v) for r, v in zip(records, vectors, strict=True)
                ]
        else:
            stored = self._add_plain(records[0].namespace, actor, records, vectors)
        if len(stored) >= ANALYZE_AFTER:  # the planner's row counts, before autovacuum's
            with self._query() as conn:
                conn.execute("ANALYZE records, record_words")
        return stored

    def get(self, namespace: str, record_id: str) -> Record:
        check_namespace(namespace)
        with self._query() as conn:
            row = conn.execute(
                "SELECT body FROM records WHERE namespace = %s AND id = %s",
                (namespace, record_id),
            ).fetchone()
        if row is None:
            raise NotFoundError(
                f"no record {record_id!r} in namespace {namespace!r}",
                hint="list ids with `mindpilot memory list`",
            )
        return from_json(row[0])

    def update(
        self, namespace: str, record_id: str, *, actor: str = "user", **fields: object
    ) -> Record:
        old = self.get(namespace, record_id)
        allowed = UPDATABLE[old.kind]
        unknown = sorted(set(fields) - allowed)
        if unknown or not fields:
            raise ValidationError(
                f"cannot update {', '.join(unknown) or 'nothing'} of a {old.kind} record",
                hint=f"updatable fields: {', '.join(sorted(allowed))}"
                + ("; experiences are append-only" if old.kind == "experience" else ""),
            )
        if getattr(old, "superseded_by", None):
            raise ConflictError(
                f"record {record_id!r} was superseded by {old.superseded_by!r}",  # type: ignore[union-attr]
                hint="update the newer record instead",
            )
        new = dataclasses.replace(old, **fields, version=old.version + 1)  # type: ignore[arg-type]
        self._check_size(new)
        vector = self._embed([new.embed_text]) if new.embed_text != old.embed_text else None
        with self._write(namespace, actor) as batch:
            # the namespace lock is held: the row read now is the latest committed one
            seq, current, vec = self._require(batch.conn, namespace, record_id)
            if current != old:
                raise ConflictError(f"record {record_id!r} changed meanwhile", hint="try again")
            new = dataclasses.replace(new, updated_at=batch.at)
            self._put(batch, new, vec if vector is None else vector[0], seq)
            self._log(batch, "update", record_id, new.kind, old, new, vec)
        return new

    def supersede(
        self, namespace: str, old_id: str, new_record: Record, *, actor: str = "user"
    ) -> Record:
        if not isinstance(new_record, Knowledge):
            raise ValidationError("only knowledge records can be superseded", hint="use update")
        new_record = dataclasses.replace(new_record, namespace=namespace)
        self._check_size(new_record)
        vector = self._embed([new_record.embed_text])[0]
        with self._write(namespace, actor) as batch:
            seq, old, vec = self._require(batch.conn, namespace, old_id)
            if not isinstance(old, Knowledge):
                raise ValidationError(f"record {old_id!r} is {old.kind}, not knowledge")
            if old.superseded_by:
                raise ConflictError(
                    f"record {old_id!r} was already superseded by {old.superseded_by!r}",
                    hint="supersede the newer record instead",
                )
            stored = self._insert_new(batch, new_record, vector)
            self._mark_superseded(batch, seq, old, stored.id, vec)
        return stored

    def delete(self, namespace: str, record_id: str, *, actor: str = "user") -> None:
        with self._write(namespace, actor) as batch:
            seq, old, vec = self._require(batch.conn, namespace, record_id)
            self._remove(batch, seq)
            self._log(batch, "delete", record_id, old.kind, old, None, vec)

    def list(
        self,
        namespace: str,
        *,
        kind: Kind | None = None,
        domain: str | None = None,
        task: str | None = None,
        tags: Sequence[str] = (),
        since: float | None = None,
        until: float | None = None,
        include_superseded: bool = False,
        limit: int | None = 100,
        offset: int = 0,
    ) -> builtins.list[Record]:
        where, params = filters(
            namespace, kinds=None if kind is None else [kind],
            domains=None if domain is None else [domain], tasks=None if task is None else [task],
            tags=tags, since=since, until=until, strict=True, current=not include_superseded,
        )  # fmt: skip
        if (limit is not None and limit < 0) or offset < 0:
            raise ValidationError("limit and offset must not be negative")
        sql = f"SELECT body FROM records r WHERE {where} ORDER BY created_at DESC, seq DESC"
        with self._query() as conn:
            rows = conn.execute(sql + " LIMIT %s OFFSET %s", (*params, limit, offset)).fetchall()
        return [from_json(r[0]) for r in rows]

    def current_emotion(self, namespace: str, task: str) -> Emotion | None:
        check_namespace(namespace)
        with self._query() as conn:
            found = self._current_emotions(conn, namespace, task)
        return found[0][1] if found else None  # type: ignore[return-value]

    def namespaces(self) -> builtins.list[str]:
        with self._query() as conn:
            rows = conn.execute(
                # every namespace ever written has a namespace_state row: test those (by
                # index) rather than read every record's namespace
                "SELECT namespace FROM namespace_state s"
                " WHERE EXISTS (SELECT 1 FROM records r WHERE r.namespace = s.namespace)"
                " OR EXISTS (SELECT 1 FROM tasks t WHERE t.namespace = s.namespace)"
                ' ORDER BY namespace COLLATE "C"'  # code point order, as Python sorts
            ).fetchall()
        return [r[0] for r in rows]

    # ---- task profiles ----------------------------------------------------------------------
    def put_task(self, profile: TaskProfile, *, actor: str = "user") -> TaskProfile:
        if not isinstance(profile, TaskProfile):
            raise ValidationError(f"expected a TaskProfile, got {type(profile).__name__}")
        with self._write(profile.namespace, actor) as batch:
            old = self._task(batch.conn, profile.namespace, profile.name)
            new = dataclasses.replace(
                profile, version=(old.version if old else 0) + 1,
                created_at=old.created_at if old else batch.at, updated_at=batch.at,
            )  # fmt: skip
            self._write_task(batch, new)
            self._log(batch, "update" if old else "add", f"task:{new.name}", "task", old, new)
        return new

    def get_task(self, namespace: str, name: str) -> TaskProfile:
        check_namespace(namespace)
        with self._read() as conn:
            found = self._task(conn, namespace, name)
            if found is None:
                known = ", ".join(t.name for t in self._tasks(conn, namespace)) or "none"
                raise NotFoundError(
                    f"no task {name!r} in namespace {namespace!r}",
                    hint=f"known tasks: {known}; create one with `mindpilot task create`",
                )
        return found

    def list_tasks(self, namespace: str) -> builtins.list[TaskProfile]:
        check_namespace(namespace)
        with self._query() as conn:
            return self._tasks(conn, namespace)

    def task_names(self, namespace: str) -> builtins.list[str]:
        check_namespace(namespace)
        with self._query() as conn:
            rows = conn.execute(
                "SELECT n FROM (SELECT task FROM records WHERE namespace = %s"
                " AND task IS NOT NULL AND superseded_by IS NULL"
                ' UNION SELECT name FROM tasks WHERE namespace = %s) u (n) ORDER BY n COLLATE "C"',
                (namespace, namespace),
            ).fetchall()
        return [r[0] for r in rows]

    def delete_task(self, namespace: str, name: str, *, actor: str = "user") -> None:
        self.get_task(namespace, name)
        with self._write(namespace, actor) as batch:
            if self._task(batch.conn, namespace, name) is None:  # deleted meanwhile
                raise NotFoundError(f"no task {name!r} in namespace {namespace!r}")
            self._delete_task(batch, name)

    # ---- exchange ---------------------------------------------------------------------------
    def import_records(
        self,
        namespace: str,
        records: Sequence[Record],
        tasks: Sequence[TaskProfile],
        *,
        actor: str = "user",
    ) -> int:
        check_namespace(namespace)
        now = time.time()
        records = [
            dataclasses.replace(
                r, namespace=namespace, id=r.id or new_id(r.kind), version=r.version or 1,
                created_at=r.created_at or now, updated_at=r.updated_at or now,
            )
            for r in records
        ]  # fmt: skip
        tasks = [dataclasses.replace(t, namespace=namespace, version=t.version or 1) for t in tasks]
        for record in records:
            self._check_size(record)
        check_unique([r.id for r in records], "record id")
        check_unique([t.name for t in tasks], "task")
        vectors = self._embed([r.embed_text for r in records], progress=len(records) > 1000)
        with self._write(namespace, actor) as batch:
            taken = [
                row[0]
                for row in batch.conn.execute(
                    "SELECT id FROM records WHERE namespace = %s AND id = ANY(%s)",
                    (namespace, [r.id for r in records]),
                )
            ]
            taken += [f"task:{t.name}" for t in tasks if self._task(batch.conn, namespace, t.name)]
            if taken:
                raise ConflictError(
                    f"{len(taken)} item(s) already exist in namespace {namespace!r}, e.g. "
                    f"{', '.join(taken[:3])}; nothing was imported",
                    hint="import into an empty namespace, or delete those first",
                )
            for record, vector in zip(records, vectors, strict=True):
                self._put(batch, record, vector)
                self._log(batch, "import", record.id, record.kind, None, record)
            for task in tasks:
                self._write_task(batch, task)
                self._log(batch, "import", f"task:{task.name}", "task", None, task)
        return len(records) + len(tasks)
