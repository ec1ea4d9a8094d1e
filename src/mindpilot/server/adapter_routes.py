"""REST for task adapters (per-task LoRA weights on the frozen base): train one for a task in a
background job, list, show, activate, deactivate, delete. The same core functions as
`mindpilot adapt` and `mindpilot adapters ...`; every route works in the caller's namespace.

    POST   /v1/tasks/{name}/adapters      start training an adapter for the task (202, a job)
    GET    /v1/adapters/jobs              the namespace's training jobs, newest first
    GET    /v1/adapters/jobs/{job_id}     one job: state, step, loss, ETA, result or error
    GET    /v1/adapters[?task=NAME]       the saved adapters, with `active`
    GET    /v1/adapters/{id}              one adapter's manifest
    POST   /v1/adapters/{id}/activate     its task answers with it from now on
    DELETE /v1/tasks/{name}/adapter       the task answers with the bare base again
    DELETE /v1/adapters/{id}              delete a saved adapter (409 while a task uses it)

Which adapter a task uses is part of its profile (`adapter` in GET /v1/tasks/{name}), so
activating and deactivating are in the task's history and `POST /v1/memory/undo` reverts them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from mindpilot.adapters import Adapted, Progress, activate, adapt, deactivate, delete, listing
from mindpilot.server.adapter_schemas import (
    AdapterDeletedOut,
    AdapterList,
    AdapterOut,
    JobList,
    JobOut,
    TaskAdapterOut,
    TrainIn,
    adapter_out,
    job_out,
)
from mindpilot.server.errors import error_docs
from mindpilot.server.memory_schemas import ACTOR, NAME_CHARS, Namespace, State
from mindpilot.server.task_routes import TaskName

ID_CHARS = 64
AdapterId = Annotated[str, Path(min_length=1, max_length=ID_CHARS)]
JobId = Annotated[str, Path(min_length=1, max_length=ID_CHARS)]

# Any route: a body that is not JSON (400), a missing key (401), a body over the server's limit
# (413), invalid input (422).
router = APIRouter(prefix="/v1", tags=["adapters"], responses=error_docs(400, 401, 413, 422))


@router.post(
    "/tasks/{name}/adapters", status_code=202, response_model=JobOut, responses=error_docs(409)
)
def train_adapter(
    name: TaskName, body: TrainIn, namespace: Namespace, state: State, response: Response
) -> JobOut:
    """Start training an adapter for the task from its experiences (situation -> response;
    negative feedback left out), as `mindpilot adapt` does: validated against the bare base on
    held-out examples, saved, and activated only if better (and `activate`). Answers 202 with
    the job (`Location`: where to poll it). Bad settings are refused at once (400 naming the
    value, 422 for a wrong type); too few examples and other problems of the data end the job
    `failed`, with an `error` that says how to fix it. One job at a time per server: a start
    while one is queued or running is a 409 with Retry-After (the job's ETA).

    Generation goes on while a job trains: the job is a thread of its own, beside the
    generation worker, and takes the model's lock only to load the new adapter and for the
    validation passes (one forward or decode at a time, in turn with generations). What it
    costs generation is CPU: torch's thread count (`--threads`, MINDPILOT_THREADS, default 1)
    applies to every thread that runs torch, so the training thread busies as many cores as
    the generation worker. With the default 1 thread on 2 cores, training and generation each
    have a core and generation slows by what they still share (memory bandwidth, the GIL
    between torch calls, the validation passes); with 2 threads on 2 cores the two
    oversubscribe the cores and each runs at about half speed or worse. Training also holds a
    copy of the base model (the base's memory once more) until it ends. The measured
    slowdown is the benchmark's to report; this route promises none."""
    config, labels = body.config(), body.checked_labels()  # 400 / 422 before any job exists
    engine, store = state.engine, state.store

    def work(progress: Callable[[Progress], None]) -> Adapted:
        return adapt(
            engine.autopilot, store, namespace, name, config, labels=labels,
            activate=body.activate, library=engine.adapters, progress=progress, actor=ACTOR,
        )  # fmt: skip

    job = state.training.start(namespace, name, work)
    response.headers["Location"] = f"/v1/adapters/jobs/{job.id}"
    return job_out(job)


@router.get("/adapters/jobs", response_model=JobList)
def list_jobs(namespace: Namespace, state: State) -> JobList:
    """The namespace's training jobs since the server started, newest first."""
    return JobList(data=[job_out(j) for j in state.training.list(namespace)])


@router.get("/adapters/jobs/{job_id}", response_model=JobOut, responses=error_docs(404))
def get_job(job_id: JobId, namespace: Namespace, state: State) -> JobOut:
    """One training job; 404 if it is not the namespace's."""
    return job_out(state.training.get(namespace, job_id))


@router.get("/adapters", response_model=AdapterList)
def list_adapters(
    namespace: Namespace,
    state: State,
    task: Annotated[str | None, Query(min_length=1, max_length=NAME_CHARS)] = None,
) -> AdapterList:
    """The namespace's saved adapters (of one task), by task and version, with their
    validation figures; `active`: some task answers with it."""
    found = listing(state.store, state.engine.adapters, namespace, task)
    return AdapterList(data=[adapter_out(x) for x in found])


@router.get("/adapters/{adapter_id}", response_model=AdapterOut, responses=error_docs(404))
def get_adapter(adapter_id: AdapterId, namespace: Namespace, state: State) -> AdapterOut:
    """One adapter's manifest: base model and weights hash, training records, settings,
    metrics before and after; 404 if the namespace has none by that id."""
    library = state.engine.adapters
    manifest = library.get(namespace, adapter_id)
    found = listing(state.store, library, namespace, manifest.task)
    return adapter_out(next(x for x in found if x.manifest.id == adapter_id))


@router.post(
    "/adapters/{adapter_id}/activate", response_model=TaskAdapterOut, responses=error_docs(404)
)
def activate_adapter(adapter_id: AdapterId, namespace: Namespace, state: State) -> TaskAdapterOut:
    """Its task answers with this adapter from now on (whether or not it beat the base)."""
    manifest = activate(state.store, state.engine.adapters, namespace, adapter_id, actor=ACTOR)
    return TaskAdapterOut(task=manifest.task, adapter=manifest.id)


@router.delete("/tasks/{name}/adapter", response_model=TaskAdapterOut, responses=error_docs(404))
def deactivate_adapter(name: TaskName, namespace: Namespace, state: State) -> TaskAdapterOut:
    """The task answers with the bare base again; its adapters stay saved. 404 if the
    namespace has no task profile by that name; a task without an adapter is left as it is."""
    deactivate(state.store, namespace, name, actor=ACTOR)
    return TaskAdapterOut(task=name, adapter=None)


@router.delete("/adapters/{adapter_id}", response_model=AdapterDeletedOut,
               responses=error_docs(404, 409))  # fmt: skip
def delete_adapter(adapter_id: AdapterId, namespace: Namespace, state: State) -> AdapterDeletedOut:
    """Delete a saved adapter; 409 while a task answers with it (deactivate it first)."""
    delete(state.store, state.engine.adapters, namespace, adapter_id)
    return AdapterDeletedOut(deleted=adapter_id)
