"""REST for task profiles: who the assistant is for a task and what it may draw on. A task's
name is also its model name in `/v1/chat/completions`."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response

from mindpilot.server.errors import error_docs
from mindpilot.server.memory_schemas import (
    ACTOR,
    NAME_CHARS,
    ChangeList,
    DeletedOut,
    Namespace,
    State,
    TaskIn,
    TaskList,
    TaskOut,
    change_out,
    task_out,
)

router = APIRouter(prefix="/tasks", tags=["tasks"])
TaskName = Annotated[str, Path(min_length=1, max_length=NAME_CHARS)]


@router.get("", response_model=TaskList)
def list_tasks(namespace: Namespace, state: State) -> TaskList:
    """The namespace's task profiles, by name."""
    return TaskList(data=[task_out(p) for p in state.store.list_tasks(namespace)])


@router.get("/{name}", response_model=TaskOut, responses=error_docs(404))
def get_task(name: TaskName, namespace: Namespace, state: State) -> TaskOut:
    """One task profile; 404 if the namespace has none by that name."""
    return task_out(state.store.get_task(namespace, name))


@router.put(
    "/{name}",
    response_model=TaskOut,
    responses={201: {"model": TaskOut, "description": "Created."}},
)
def put_task(
    name: TaskName, body: TaskIn, namespace: Namespace, state: State, response: Response
) -> TaskOut:
    """Create (201) or replace (200) a task profile: personality, expertise (the knowledge
    domains it may draw on; [] = all), default emotion, adapter and retrieval settings (top k
    and token budgets per kind, minimum similarity). Fields left out take their defaults, so
    to change one field, GET the profile, change it and PUT it back. The previous version is
    in `GET /v1/tasks/{name}/history`."""
    profile = state.store.put_task(body.profile(namespace, name), actor=ACTOR)
    if profile.version == 1:
        response.status_code = 201
    return task_out(profile)


@router.delete("/{name}", response_model=DeletedOut, responses=error_docs(404))
def delete_task(name: TaskName, namespace: Namespace, state: State) -> DeletedOut:
    """Remove a task profile; its records stay (`DELETE /v1/memory/records?task=NAME` removes
    those too). `POST /v1/memory/undo` brings it back."""
    state.store.delete_task(namespace, name, actor=ACTOR)
    return DeletedOut(deleted=1)


@router.get("/{name}/history", response_model=ChangeList, responses=error_docs(404))
def task_history(name: TaskName, namespace: Namespace, state: State) -> ChangeList:
    """Every change of the task profile, oldest first; 404 if it never existed."""
    changes = state.store.history(namespace, f"task:{name}")
    return ChangeList(data=[change_out(c) for c in changes])
