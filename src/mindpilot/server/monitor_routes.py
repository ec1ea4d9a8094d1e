"""REST for the bias and data monitor: start a run in the background and follow it, the stored
runs, and the latest one's report (rates per condition, the data audit's findings, the
report's plots as SVG).

    POST /v1/monitor/runs           start a run (202, a job; 409 while one runs)
    GET  /v1/monitor/jobs           the namespace's runs started by this server, newest first
    GET  /v1/monitor/jobs/{job_id}  one: state, current step, then the stored run or the error
    GET  /v1/monitor/runs           the stored runs (however they were started)
    GET  /v1/monitor/report         the latest stored run in detail

A run is minutes of probing, so it is a job (server/monitor_jobs.py) running the same core as
`mindpilot monitor run`; the reads go through the same `RunLog` and `report` functions as
`mindpilot monitor list | report`. Everything is scoped to the caller's namespace.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field

from mindpilot.mental_process.store import Store
from mindpilot.monitor import report
from mindpilot.monitor.data_audit import Finding
from mindpilot.monitor.probe_data import SETS
from mindpilot.monitor.probes import CONDITIONS, Rate
from mindpilot.monitor.runs import MonitorRun, RunLog
from mindpilot.server.adapter_schemas import JobErrorOut
from mindpilot.server.errors import error_docs
from mindpilot.server.jobs import Job, JobState
from mindpilot.server.memory_schemas import NAME_CHARS, Name, Namespace, State
from mindpilot.server.monitor_jobs import start_run

router = APIRouter(prefix="/v1/monitor", tags=["monitor"], responses=error_docs(400, 401))
JobId = Annotated[str, Path(min_length=1, max_length=64)]
TaskFilter = Annotated[str | None, Query(max_length=NAME_CHARS, description="Runs of this task.")]


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RunIn(BaseModel):
    """What to run (`mindpilot monitor run`'s options)."""

    model_config = ConfigDict(extra="forbid")
    task: Name | None = Field(None, description="Also probe the model as this task.")
    quick: bool = Field(False, description="10 probe pairs per set (~1 min): a smoke test.")
    pairs: int | None = Field(
        None, ge=0, description="Probe pairs per set (default 150; 0 = every pair)."
    )


class RunSummaryOut(_Out):
    """One stored run: its stereotype preference per condition (null: not probed)."""

    id: str
    task: str | None
    created_at: float = Field(description="Unix seconds.")
    model: str
    stereotype: dict[str, float | None] = Field(description="Share per condition, 0.5 = none.")
    findings: int


class ConditionOut(_Out):
    condition: str
    note: str = Field(description="Why it was skipped, or what it used.")
    adapter: str | None
    overall: Rate | None
    by_set: dict[str, Rate | None]


class ReportOut(_Out):
    """The latest run in detail, the runs before it, and the report's plots."""

    run: RunSummaryOut
    pairs_per_set: int | None = Field(description="Null: every pair of both sets.")
    records: int = Field(description="Current records of the namespace when it ran.")
    seconds: float
    conditions: list[ConditionOut]
    findings: list[Finding] = Field(description="Flagged records, each with the command fixing it.")
    runs: list[RunSummaryOut] = Field(description="The trend: this run and older ones.")
    plots: list[str] = Field(description="SVG: by category and condition, then the trend.")


class MonitorJobOut(_Out):
    """A run started by this server: queued -> running -> done (with `run`) or failed."""

    id: str
    namespace: str
    task: str | None
    state: JobState
    step: str | None = Field(description="What the run is doing now (null before it starts).")
    created_at: float
    started_at: float | None
    finished_at: float | None
    run: RunSummaryOut | None = Field(description="The stored run, once done.")
    error: JobErrorOut | None = Field(description="Why it failed and how to fix it.")


class MonitorJobList(_Out):
    object: str = "list"
    data: list[MonitorJobOut]


class RunList(_Out):
    object: str = "list"
    data: list[RunSummaryOut]


def _summary(run: MonitorRun) -> RunSummaryOut:
    return RunSummaryOut(
        id=run.id, task=run.task, created_at=run.created_at, model=run.model,
        stereotype={c: run.stereotype_rate(c) for c in CONDITIONS}, findings=len(run.findings),
    )  # fmt: skip


def _job_out(job: Job[str, MonitorRun]) -> MonitorJobOut:
    error = job.error
    return MonitorJobOut(
        id=job.id, namespace=job.namespace, task=job.task, state=job.state, step=job.progress,
        created_at=job.created_at, started_at=job.started_at, finished_at=job.finished_at,
        run=None if job.result is None else _summary(job.result),
        error=None if error is None else JobErrorOut(message=error.message, hint=error.hint),
    )  # fmt: skip


@router.post("/runs", status_code=202, response_model=MonitorJobOut,
             responses=error_docs(404, 409, 413, 422))  # fmt: skip
def start(body: RunIn, namespace: Namespace, state: State, response: Response) -> MonitorJobOut:
    """Start a monitor run of the namespace (`mindpilot monitor run`): the probes, the data
    audit and, with a task, its traffic replayed with genders and names swapped. Answers 202
    with the job (`Location`: where to poll it); the run is stored when it ends, whole or not
    at all. An empty namespace is a 422 and an unknown task a 404, at once. One run at a time
    per server: a start while one runs is a 409 with Retry-After (not queued: the caller
    decides whether to wait). Generation goes on meanwhile: the run takes the model one batch
    at a time and, between batches, lets waiting generations go first."""
    job = start_run(state, namespace, body.task, quick=body.quick, pairs_per_set=body.pairs)
    response.headers["Location"] = f"/v1/monitor/jobs/{job.id}"
    return _job_out(job)


@router.get("/jobs", response_model=MonitorJobList)
def list_jobs(namespace: Namespace, state: State) -> MonitorJobList:
    """The namespace's runs started by this server since it started (over HTTP or by its
    schedule), newest first."""
    return MonitorJobList(data=[_job_out(j) for j in state.monitoring.list(namespace)])


@router.get("/jobs/{job_id}", response_model=MonitorJobOut, responses=error_docs(404))
def get_job(job_id: JobId, namespace: Namespace, state: State) -> MonitorJobOut:
    """One run started by this server; 404 if it is not the namespace's."""
    return _job_out(state.monitoring.get(namespace, job_id))


@router.get("/runs", response_model=RunList)
def list_runs(
    namespace: Namespace,
    state: State,
    task: TaskFilter = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 20,
) -> RunList:
    """Stored monitor runs of the namespace, newest first (`mindpilot monitor list`)."""
    with RunLog(state.store) as log:
        runs = log.list(namespace, task=task, limit=limit)
    return RunList(data=[_summary(r) for r in runs])


@router.get("/report", response_model=ReportOut, responses=error_docs(404))
async def latest_report(
    namespace: Namespace,
    state: State,
    task: TaskFilter = None,
    runs: Annotated[int, Query(ge=1, le=200, description="Runs in the trend.")] = 20,
) -> ReportOut:
    """The latest run's report (`mindpilot monitor report`): rates per condition and probe set
    with 95% intervals, findings, the trend, and the plots. 404 when no run is stored yet."""
    return await run_in_threadpool(_report, state.store, namespace, task, runs)


def _report(store: Store, namespace: str, task: str | None, limit: int) -> ReportOut:
    with RunLog(store) as log:
        latest = log.latest(namespace, task)  # 404 naming the command that makes one
        trend = log.list(namespace, task=task, limit=limit)
    conditions = [
        ConditionOut(
            condition=c.condition,
            note=c.note,
            adapter=c.adapter,
            overall=c.rate(),
            by_set={s: c.rate(s) for s in SETS},
        )
        for c in latest.conditions
    ]
    return ReportOut(
        run=_summary(latest), pairs_per_set=latest.pairs_per_set, records=latest.records,
        seconds=latest.seconds, conditions=conditions, findings=list(latest.findings),
        runs=[_summary(r) for r in trend], plots=report.plots(trend),
    )  # fmt: skip
