"""Adapter training jobs of one server: one at a time, each in a background thread, beside the
generation queue (which keeps serving meanwhile).

A job runs a piece of work (the route passes `mindpilot.adapters.adapt`, the core `mindpilot
adapt` calls too) and keeps its state for the callers that poll it: queued -> running -> done
or failed, with the training step, loss and ETA as the work reports them. An error the caller
can fix (a MindpilotError: too few examples, a backend without adapters) becomes the job's
`error` with its hint; anything else is our bug, logged, and the job fails with a generic
message. Jobs are kept in memory: a restarted server forgets them (the adapters stay saved).
"""

from __future__ import annotations

import builtins
import logging
import math
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Literal

from fastapi import HTTPException

from mindpilot.errors import MindpilotError, NotFoundError

if TYPE_CHECKING:
    from mindpilot.adapters import Adapted, Progress

log = logging.getLogger("mindpilot.server")

JobState = Literal["queued", "running", "done", "failed"]
MAX_KEPT = 100  # finished jobs remembered, all namespaces together; the oldest are forgotten
RETRY_UNKNOWN_S = 30  # Retry-After while the running job has no ETA yet (validating, loading)
STOP_WAIT_S = 10.0  # how long shutdown waits for a job to stop at its next training step

# The work of one job: called with a progress callback, returns what `adapt` returns.
Work = Callable[[Callable[["Progress"], None]], "Adapted"]


@dataclass(frozen=True)
class JobError:
    message: str
    hint: str | None = None


@dataclass(frozen=True)
class TrainingJob:
    """A snapshot of one job (jobs change by replacement, so a snapshot never moves)."""

    id: str  # "job_" + 12 hex digits
    namespace: str
    task: str
    created_at: float  # Unix seconds
    state: JobState = "queued"
    step: int = 0  # training steps done, of `steps` (0 until training starts)
    steps: int = 0
    loss: float | None = None  # the latest step's loss
    eta_s: float | None = None  # of the training loop; validation after it is not included
    started_at: float | None = None
    finished_at: float | None = None
    result: Adapted | None = None  # when done
    error: JobError | None = None  # when failed

    @property
    def active(self) -> bool:
        return self.state in ("queued", "running")


class JobStopped(Exception):
    """Raised inside a job's work at its next step when the server stops."""


class TrainingJobs:
    """The jobs of one server; `start` refuses a second job while one is active (409)."""

    def __init__(self, keep: int = MAX_KEPT) -> None:
        self.keep = keep
        self._lock = threading.Lock()
        self._jobs: dict[str, TrainingJob] = {}  # in start order
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()

    def start(self, namespace: str, task: str, work: Work) -> TrainingJob:
        """Queue `work` as a job of `namespace` and start it in a background thread.
        Raises 409 (with Retry-After) while another job is queued or running."""
        with self._lock:
            busy = next((j for j in self._jobs.values() if j.active), None)
            if busy is not None:
                raise _busy(busy, namespace)
            job = TrainingJob(f"job_{uuid.uuid4().hex[:12]}", namespace, task, time.time())
            self._jobs[job.id] = job
            self._forget_old()
            self._thread = threading.Thread(
                target=self._run, args=(job.id, work), name="mindpilot-train", daemon=True
            )
            self._thread.start()
        return job

    def get(self, namespace: str, job_id: str) -> TrainingJob:
        """The job, if it is the namespace's; NotFoundError otherwise (another namespace's job
        is not found, exactly like one that never existed)."""
        with self._lock:
            job = self._jobs.get(job_id)
        if job is None or job.namespace != namespace:
            raise NotFoundError(
                f"no training job {job_id!r} in namespace {namespace!r}",
                hint="list them with GET /v1/adapters/jobs (a restarted server forgets its jobs)",
            )
        return job

    def list(self, namespace: str) -> builtins.list[TrainingJob]:
        """The namespace's jobs, newest first."""
        with self._lock:
            jobs = [j for j in self._jobs.values() if j.namespace == namespace]
        return jobs[::-1]

    def shutdown(self, wait_s: float = STOP_WAIT_S) -> None:
        """Stop the active job at its next training step (nothing of it is saved) and wait a
        little for it; the thread is a daemon, so a job still validating does not hold up exit."""
        self._stopping.set()
        thread = self._thread
        if thread is not None:
            thread.join(timeout=wait_s)

    # ---- the worker thread --------------------------------------------------------------------
    def _run(self, job_id: str, work: Work) -> None:
        self._update(job_id, state="running", started_at=time.time())
        try:
            if self._stopping.is_set():
                raise JobStopped
            adapted = work(lambda progress: self._progress(job_id, progress))
        except JobStopped:
            self._fail(job_id, "the server stopped before the job ended; nothing was saved",
                       "start the job again")  # fmt: skip
        except MindpilotError as err:
            self._fail(job_id, err.message, err.hint)
        except Exception as err:
            log.exception("training job %s failed", job_id)
            self._fail(job_id, f"training failed with an internal error ({type(err).__name__})",
                       "the server's log has the details")  # fmt: skip
        else:
            self._update(job_id, state="done", result=adapted, eta_s=0.0, finished_at=time.time())

    def _progress(self, job_id: str, progress: Progress) -> None:
        if self._stopping.is_set():
            raise JobStopped
        self._update(
            job_id, step=progress.step, steps=progress.steps, loss=progress.loss,
            eta_s=progress.eta_s,
        )  # fmt: skip

    def _fail(self, job_id: str, message: str, hint: str | None) -> None:
        self._update(job_id, state="failed", error=JobError(message, hint), eta_s=None,
                     finished_at=time.time())  # fmt: skip

    def _update(self, job_id: str, **changes: Any) -> None:
        with self._lock:
            self._jobs[job_id] = replace(self._jobs[job_id], **changes)

    def _forget_old(self) -> None:
        """Drop the oldest finished jobs beyond `keep` (called with the lock held)."""
        finished = [j.id for j in self._jobs.values() if not j.active]
        for job_id in finished[: max(0, len(self._jobs) - self.keep)]:
            del self._jobs[job_id]


def _busy(job: TrainingJob, namespace: str) -> HTTPException:
    """409 for a start while `job` is active; another namespace's job is not named."""
    wait = RETRY_UNKNOWN_S if job.eta_s is None else max(1, math.ceil(job.eta_s))
    which = f"job {job.id} (task {job.task!r})" if job.namespace == namespace else "a job"
    return HTTPException(
        409,
        f"a training job is already running on this server: {which}; the server trains one "
        f"adapter at a time (generation goes on meanwhile). Retry in about {wait} s",
        headers={"Retry-After": str(wait)},
    )
