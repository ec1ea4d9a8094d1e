"""REST for the bias and data monitor, read-only: the stored runs and the latest one's report
(rates per condition, the data audit's findings, the report's plots as SVG).

Runs are made by `mindpilot monitor run` (minutes of probing: not a request's work); these
routes read them through the same `RunLog` and `report` functions as `mindpilot monitor
list | report`, scoped to the caller's namespace.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field

from mindpilot.mental_process.store import Store
from mindpilot.monitor import report
from mindpilot.monitor.data_audit import Finding
from mindpilot.monitor.probe_data import SETS
from mindpilot.monitor.probes import CONDITIONS, Rate
from mindpilot.monitor.runs import MonitorRun, RunLog
from mindpilot.server.errors import error_docs
from mindpilot.server.memory_schemas import NAME_CHARS, Namespace, State

router = APIRouter(prefix="/v1/monitor", tags=["monitor"], responses=error_docs(400, 401))
TaskFilter = Annotated[str | None, Query(max_length=NAME_CHARS, description="Runs of this task.")]


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


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


class RunList(_Out):
    object: str = "list"
    data: list[RunSummaryOut]


def _summary(run: MonitorRun) -> RunSummaryOut:
    return RunSummaryOut(
        id=run.id, task=run.task, created_at=run.created_at, model=run.model,
        stereotype={c: run.stereotype_rate(c) for c in CONDITIONS}, findings=len(run.findings),
    )  # fmt: skip


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
