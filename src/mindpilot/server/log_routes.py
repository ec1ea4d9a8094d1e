"""REST for the audit log: every answer, the prompt it came from and the records it used; and
feedback on an answer, which becomes an experience of its task."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from mindpilot.errors import ConfigError
from mindpilot.monitor.audit import AuditEntry, AuditLog
from mindpilot.server.deps import ServerState
from mindpilot.server.errors import error_docs
from mindpilot.server.memory_schemas import (
    ACTOR,
    NAME_CHARS,
    ExperienceOut,
    FeedbackIn,
    ListOf,
    Namespace,
    State,
)

router = APIRouter(prefix="/log", tags=["log"])


# The audit entry's own dataclass is the response model, so a field the engine adds to its
# provenance (e.g. UsedRecord.stage) reaches the API without an edit here.
class AuditList(ListOf[AuditEntry]):
    pass


def _audit(state: ServerState) -> AuditLog:
    if state.audit is None:
        raise ConfigError(
            "this server's engine was opened without its audit log",
            hint="open the engine with audit=True (the default) to have one",
        )
    return state.audit


@router.get("", response_model=AuditList, responses=error_docs(400))
def list_entries(
    namespace: Namespace,
    state: State,
    task: Annotated[str | None, Query(max_length=NAME_CHARS)] = None,
    session_id: Annotated[str | None, Query(max_length=NAME_CHARS)] = None,
    limit: Annotated[int, Query(ge=0, le=1000)] = 20,
    offset: Annotated[int, Query(ge=0, le=1_000_000_000)] = 0,
) -> AuditList:
    """Answers, newest first; `task` and `session_id` narrow them."""
    found = _audit(state).list(
        namespace, task=task, session_id=session_id, limit=limit + 1, offset=offset
    )
    return AuditList(data=found[:limit], has_more=len(found) > limit)


@router.get("/{entry_id}", response_model=AuditEntry, responses=error_docs(400, 404))
def get_entry(entry_id: str, namespace: Namespace, state: State) -> AuditEntry:
    """One answer: the caller's messages, the composed prompt, the records used (ids,
    versions, similarities), the response, token counts and timings. 404 if unknown."""
    return _audit(state).get(namespace, entry_id)


@router.post("/{entry_id}/feedback", response_model=ExperienceOut, responses=error_docs(400, 404))
def feedback(entry_id: str, body: FeedbackIn, namespace: Namespace, state: State) -> ExperienceOut:
    """Rate an answer: it becomes an experience of its task (score 1 for good, -1 for bad,
    with the note), so similar requests later take it as an example or leave it out.
    Feedback again on the same answer updates that experience. 422 if the answer had no
    task; 404 if there is no such entry."""
    experience = _audit(state).feedback(namespace, entry_id, body.good, body.note, actor=ACTOR)
    return ExperienceOut.model_validate(experience.to_dict())
