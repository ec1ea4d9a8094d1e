"""REST for the Mental Process: records (create, read, list, update, supersede, delete), search,
history and undo. Export/import, task profiles and the audit log have their own modules, whose
routers are included here (so the app includes one router for all of them).

Every route takes the caller's namespace from `caller_namespace` and passes nothing else to
the store: a record of another namespace is a 404 here, exactly like one that never existed.
The routes are plain `def`s (FastAPI runs them in its thread pool): the store blocks (SQLite,
embedding) and is thread-safe.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query

from mindpilot.errors import ValidationError
from mindpilot.mental_process.records import (
    KINDS,
    Emotion,
    Experience,
    Knowledge,
    Record,
)
from mindpilot.server import exchange_routes, log_routes, task_routes
from mindpilot.server.errors import error_docs
from mindpilot.server.memory_schemas import (
    ACTOR,
    MAX_LIST,
    NAME_CHARS,
    ChangeList,
    DeletedOut,
    EmotionIn,
    EmotionOut,
    ExperienceIn,
    ExperienceOut,
    HitList,
    KnowledgeIn,
    KnowledgeOut,
    Namespace,
    RecordIn,
    RecordList,
    RecordOut,
    RecordPatch,
    SearchIn,
    State,
    SupersedeIn,
    change_out,
    hit_out,
    record_out,
)

AnyRecordOut = KnowledgeOut | EmotionOut | ExperienceOut

# Any route: a body that is not JSON (400), a missing key (401), a body over the server's limit
# (413), invalid input (422).
router = APIRouter(prefix="/v1", responses=error_docs(400, 401, 413, 422))
records = APIRouter(prefix="/memory", tags=["memory"])


def _record(body: KnowledgeIn | EmotionIn | ExperienceIn, namespace: str) -> Record:
    fields = body.model_dump(exclude={"kind"})
    if isinstance(body, KnowledgeIn):
        return Knowledge(namespace=namespace, **fields)
    if isinstance(body, EmotionIn):
        return Emotion(namespace=namespace, **fields)
    return Experience(namespace=namespace, **fields)


@records.post("/records", status_code=201, response_model=RecordOut)
def create_record(body: RecordIn, namespace: Namespace, state: State) -> AnyRecordOut:
    """Add one record: `kind` "knowledge" (domain, text, source, tags), "emotion" (task,
    state, guidance, intensity 0..1; it supersedes the task's current emotion) or
    "experience" (task, situation, response, score -1..1, note). Answers 201 with the stored
    record (id, version 1, timestamps); 413 when it is larger than the store's record limit."""
    return record_out(state.store.add(_record(body, namespace), actor=ACTOR))


@records.get("/records", response_model=RecordList)
def list_records(
    namespace: Namespace,
    state: State,
    kind: Literal["knowledge", "emotion", "experience"] | None = None,
    domain: Annotated[str | None, Query(max_length=NAME_CHARS)] = None,
    task: Annotated[str | None, Query(max_length=NAME_CHARS)] = None,
    tag: Annotated[list[str] | None, Query(max_length=MAX_LIST, description="All present.")] = None,
    since: Annotated[float | None, Query(ge=0, le=1e12, description="Unix seconds, >=.")] = None,
    until: Annotated[float | None, Query(ge=0, le=1e12, description="Unix seconds, <.")] = None,
    include_superseded: bool = False,
    limit: Annotated[int, Query(ge=0, le=1000)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000_000)] = 0,
) -> RecordList:
    """Records, newest first; filters combine with AND. Superseded records only with
    `include_superseded=true`. `has_more` says a next page exists."""
    found = state.store.list(
        namespace, kind=kind, domain=domain, task=task, tags=tag or (), since=since, until=until,
        include_superseded=include_superseded, limit=limit + 1, offset=offset,
    )  # fmt: skip
    page = [record_out(r) for r in found[:limit]]
    return RecordList(data=page, has_more=len(found) > limit)


@records.delete("/records", response_model=DeletedOut, responses=error_docs(404))
def delete_scope(
    namespace: Namespace,
    state: State,
    task: Annotated[str | None, Query(min_length=1, max_length=NAME_CHARS)] = None,
    domain: Annotated[str | None, Query(min_length=1, max_length=NAME_CHARS)] = None,
    everything: Annotated[bool, Query(alias="all", description="The whole namespace.")] = False,
) -> DeletedOut:
    """Delete a task's records and profile (`task`), a domain's knowledge (`domain`) or the
    whole namespace (`all=true`): exactly one of them. Never touches another namespace;
    `POST /v1/memory/undo` brings it all back."""
    if [task is not None, domain is not None, everything].count(True) != 1:
        raise ValidationError(
            "say what to delete: exactly one of ?task=NAME, ?domain=NAME or ?all=true",
            hint="to delete one record, DELETE /v1/memory/records/{id}",
        )
    count = state.store.delete_scope(namespace, task=task, domain=domain, actor=ACTOR)
    return DeletedOut(deleted=count)


@records.get("/records/{record_id}", response_model=RecordOut, responses=error_docs(404))
def get_record(record_id: str, namespace: Namespace, state: State) -> AnyRecordOut:
    """One record, superseded or not. 404 if the namespace has no such record."""
    return record_out(state.store.get(namespace, record_id))


@records.patch("/records/{record_id}", response_model=RecordOut, responses=error_docs(404, 409))
def update_record(
    record_id: str, body: RecordPatch, namespace: Namespace, state: State
) -> AnyRecordOut:
    """Change some fields of a record; answers its new version (version + 1; the old one is in
    its history). Which fields a kind allows: knowledge domain/text/source/tags, emotion
    state/guidance/intensity, experience score/note (422 otherwise). A superseded record
    cannot change (409): change the newer one."""
    return record_out(state.store.update(namespace, record_id, actor=ACTOR, **body.changes()))


@records.post(
    "/records/{record_id}/supersede",
    status_code=201,
    response_model=RecordOut,
    responses=error_docs(404, 409),
)
def supersede_record(
    record_id: str, body: SupersedeIn, namespace: Namespace, state: State
) -> AnyRecordOut:
    """Replace a knowledge record by a new one (201, the new record). The old one is kept,
    marked `superseded_by`, and no longer retrieved; 409 if it was already superseded."""
    new = Knowledge(namespace=namespace, **body.model_dump())
    return record_out(state.store.supersede(namespace, record_id, new, actor=ACTOR))


@records.delete("/records/{record_id}", response_model=DeletedOut, responses=error_docs(404))
def delete_record(record_id: str, namespace: Namespace, state: State) -> DeletedOut:
    """Remove one record; its history stays, and `POST /v1/memory/undo` brings it back."""
    state.store.delete(namespace, record_id, actor=ACTOR)
    return DeletedOut(deleted=1)


@records.get("/records/{record_id}/history", response_model=ChangeList, responses=error_docs(404))
def record_history(record_id: str, namespace: Namespace, state: State) -> ChangeList:
    """Every change of one record, oldest first (who, when, op, before and after); a task
    profile's history is under the id "task:NAME". 404 if it has none."""
    changes = state.store.history(namespace, record_id)
    return ChangeList(data=[change_out(c) for c in changes])


@records.post("/undo", response_model=ChangeList, responses=error_docs(404))
def undo(namespace: Namespace, state: State) -> ChangeList:
    """Revert the namespace's latest change (one call's worth: a whole import or scope delete
    at once); answers the reverted changes. 404 when there is nothing left to undo."""
    changes = state.store.undo(namespace, actor=ACTOR)
    return ChangeList(data=[change_out(c) for c in changes])


@records.post("/search", response_model=HitList)
def search(body: SearchIn, namespace: Namespace, state: State) -> HitList:
    """The `top_k` best current records for `query`, by keywords and meaning ("hybrid"),
    keywords or meaning alone. `similarity` is the cosine between query and record (-1..1;
    threshold on it); `score` only orders the hits. `domains` narrows knowledge, `tasks`
    narrows emotions and experiences."""
    hits = state.store.search(
        namespace, body.query, kinds=body.kinds or KINDS, domains=body.domains, tasks=body.tasks,
        tags=body.tags, k=body.top_k, mode=body.mode,
    )  # fmt: skip
    return HitList(data=[hit_out(h) for h in hits])


records.include_router(exchange_routes.router)
router.include_router(records)
router.include_router(task_routes.router)
router.include_router(log_routes.router)
