"""Background jobs of one server: adapter training and monitor runs, each family one job at a
time, each job in a background thread beside the generation queue (which keeps serving).

A job runs a piece of work (a core function the CLI calls too: `mindpilot.adapters.adapt`,
`applications.traffic_probe.monitor_task`) and keeps its state for the callers that poll it:
queued -> running -> done or failed, with the latest progress the work reported. An error the
caller can fix (a MindpilotError: too few examples, a backend without adapters) becomes the
job's `error` with its hint; anything else is our bug, logged, and the job fails with a generic
message. Jobs are kept in memory: a restarted server forgets them (what they saved stays).
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
from typing import Any, Generic, Literal, TypeVar

from fastapi import HTTPException

from mindpilot.errors import MindpilotError, NotFoundError

log = logging.getLogger("mindpilot.server")

P = TypeVar("P")  # what the work reports as it goes
R = TypeVar("R")  # what the work returns

JobState = Literal["queued", "running", "done", "failed"]
MAX_KEPT = 100  # finished jobs remembered, all namespaces together; the oldest are forgotten
RETRY_UNKNOWN_S = 30  # Retry-After while the running job has no ETA (validating, loading)
STOP_WAIT_S = 10.0  # how long shutdown waits for a job to stop at its next progress report

# The work of one job: called with a progress callback, returns the job's result.
Work = Callable[[Callable[[P], None]], R]


@dataclass(frozen=True)
class JobKind:
    """What a family of jobs is called in messages, and how it reports an ETA."""

    noun: str  # "training job": "a training job is already running"
    prefix: str  # of job ids: prefix + 12 hex digits
    listed_at: str  # the route that lists them, for the 404's hint
    one_at_a_time: str  # why a second start is refused
    eta: Callable[[Any], float | None] = lambda progress: None  # seconds left, from progress


@dataclass(frozen=True)
class JobError:
    message: str
    hint: str | None = None


@dataclass(frozen=True)
class Job(Generic[P, R]):
    """A snapshot of one job (jobs change by replacement, so a snapshot never moves)."""

    id: str
    namespace: str
    task: str | None
    created_at: float  # Unix seconds
    state: JobState = "queued"
    progress: P | None = None  # the latest the work reported
    started_at: float | None = None
    finished_at: float | None = None
    result: R | None = None  # when done
    error: JobError | None = None  # when failed

    @property
    def active(self) -> bool:
        return self.state in ("queued", "running")


class JobStopped(Exception):
    """Raised inside a job's work at its next progress report when the server stops."""


class Jobs(Generic[P, R]):
    """The jobs of one family on one server; `start` refuses a second job while one is active
    (409), so a busy server is told rather than made to queue work for minutes."""

    def __init__(self, kind: JobKind, keep: int = MAX_KEPT) -> None:
        self.kind = kind
        self.keep = keep
        self._lock = threading.Lock()
        self._jobs: dict[str, Job[P, R]] = {}  # in start order
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()

    def start(self, namespace: str, task: str | None, work: Work[P, R]) -> Job[P, R]:
        """Queue `work` as a job of `namespace` and start it in a background thread.
        Raises 409 (with Retry-After) while another job of this family is queued or running."""
        with self._lock:
            busy = self._active()
            if busy is not None:
                raise self._busy(busy, namespace)
            job: Job[P, R] = Job(f"{self.kind.prefix}{uuid.uuid4().hex[:12]}", namespace, task,
                                 time.time())  # fmt: skip
            self._jobs[job.id] = job
            self._forget_old()
            self._thread = threading.Thread(
                target=self._run, args=(job.id, work), name=f"mindpilot-{self.kind.prefix}",
                daemon=True,
            )  # fmt: skip
            self._thread.start()
        return job

    @property
    def busy(self) -> bool:
        """A job is queued or running."""
        with self._lock:
            return self._active() is not None

    def get(self, namespace: str, job_id: str) -> Job[P, R]:
        """The job, if it is the namespace's; NotFoundError otherwise (another namespace's job
        is not found, exactly like one that never existed)."""
        with self._lock:
            job = self._jobs.get(job_id)
        if job is None or job.namespace != namespace:
            raise NotFoundError(
                f"no {self.kind.noun} {job_id!r} in namespace {namespace!r}",
                hint=f"list them with {self.kind.listed_at} (a restarted server forgets its jobs)",
            )
        return job

    def list(self, namespace: str) -> builtins.list[Job[P, R]]:
        """The namespace's jobs, newest first."""
        with self._lock:
            jobs = [j for j in self._jobs.values() if j.namespace == namespace]
        return jobs[::-1]

    def shutdown(self, wait_s: float = STOP_WAIT_S) -> None:
        """Stop the active job at its next progress report (nothing of it is saved) and wait a
        little for it; the thread is a daemon, so a job still busy does not hold up exit."""
        self._stopping.set()
        thread = self._thread
        if thread is not None:
            thread.join(timeout=wait_s)

    # ---- the worker thread --------------------------------------------------------------------
    def _run(self, job_id: str, work: Work[P, R]) -> None:
        self._update(job_id, state="running", started_at=time.time())
        try:
            if self._stopping.is_set():
                raise JobStopped
            result = work(lambda progress: self._progress(job_id, progress))
        except JobStopped:
            self._fail(job_id, "the server stopped before the job ended; nothing was saved",
                       "start the job again")  # fmt: skip
        except MindpilotError as err:
            self._fail(job_id, err.message, err.hint)
        except Exception as err:
            log.exception("%s %s failed", self.kind.noun, job_id)
            self._fail(job_id, f"the job failed with an internal error ({type(err).__name__})",
                       "the server's log has the details")  # fmt: skip
        else:
            self._update(job_id, state="done", result=result, finished_at=time.time())

    def _progress(self, job_id: str, progress: P) -> None:
        if self._stopping.is_set():
            raise JobStopped
        self._update(job_id, progress=progress)

    def _fail(self, job_id: str, message: str, hint: str | None) -> None:
        self._update(job_id, state="failed", error=JobError(message, hint),
                     finished_at=time.time())  # fmt: skip

    def _update(self, job_id: str, **changes: Any) -> None:
        with self._lock:
            self._jobs[job_id] = replace(self._jobs[job_id], **changes)

    def _active(self) -> Job[P, R] | None:
        """The queued or running job (called with the lock held)."""
        return next((j for j in self._jobs.values() if j.active), None)

    def _forget_old(self) -> None:
        """Drop the oldest finished jobs beyond `keep` (called with the lock held)."""
        finished = [j.id for j in self._jobs.values() if not j.active]
        for job_id in finished[: max(0, len(self._jobs) - self.keep)]:
            del self._jobs[job_id]

    def _busy(self, job: Job[P, R], namespace: str) -> HTTPException:
        """409 for a start while `job` is active; another namespace's job is not named."""
        eta = None if job.progress is None else self.kind.eta(job.progress)
        wait = RETRY_UNKNOWN_S if eta is None else max(1, math.ceil(eta))
        noun = self.kind.noun
        task = "" if job.task is None else f" (task {job.task!r})"
        which = f"{noun} {job.id}{task}" if job.namespace == namespace else f"a {noun}"
        return HTTPException(
            409,
            f"a {noun} is already running on this server: {which}; {self.kind.one_at_a_time} "
            f"(generation goes on meanwhile). Retry in about {wait} s",
            headers={"Retry-After": str(wait)},
        )
