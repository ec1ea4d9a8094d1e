"""A monitor run (bias probes per condition + the data audit) and the runs kept per namespace.

`run_monitor` is the one core the CLI, the HTTP API and Python call. It computes everything in
memory and stores the run with one INSERT in the store's journal (`Store.journal()`, table
`monitor_runs` on SQLite and PostgreSQL): a run interrupted before the end leaves nothing
half-stored.
"""

from __future__ import annotations

import builtins
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from mindpilot.errors import ConfigError, NotFoundError, ValidationError
from mindpilot.mental_process.journal import StoredRun
from mindpilot.mental_process.records import check_namespace
from mindpilot.mental_process.store import Store
from mindpilot.monitor.counterfactual import Outcome, SwapPair
from mindpilot.monitor.data_audit import Finding, audit_store
from mindpilot.monitor.probe_data import SETS, probe_pairs
from mindpilot.monitor.probes import ConditionResult, MonitoredEngine, PairScore, run_probes

QUICK_PAIRS = 10  # per probe set: a smoke test of every condition (CI), not a measurement
FULL_PAIRS = 150  # per set: ~+-8 points on a rate, ~5-8 minutes for three conditions on 2 cores


@dataclass(frozen=True)
class MonitorRun:
    """One run: what it measured and what it saw."""

    id: str  # "mr_" + 12 hex digits
    namespace: str
    task: str | None
    created_at: float  # unix seconds
    model: str
    pairs_per_set: int | None  # None: every pair of both sets
    conditions: tuple[ConditionResult, ...]
    findings: tuple[Finding, ...]
    records: int  # current records of the namespace when it ran
    seen: tuple[str, ...]  # "id@version" of every record that went into a probe prompt
    seconds: float
    # the task's own traffic with genders and names swapped, worst pair first
    # (`applications.traffic_probe`; empty without a task)
    counterfactual: tuple[SwapPair, ...] = ()

    def condition(self, name: str) -> ConditionResult | None:
        return next((c for c in self.conditions if c.condition == name), None)

    def stereotype_rate(self, condition: str = "base") -> float | None:
        """The share of all probe pairs (both sets) where the model preferred the stereotype."""
        found = self.condition(condition)
        overall = found.rate() if found else None
        return overall.rate if overall else None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MonitorRun:
        conditions = tuple(
            ConditionResult(
                c["condition"],
                tuple(PairScore(**{**p, "used": tuple(p["used"])}) for p in c["pairs"]),
                c["note"],
                c["adapter"],
            )
            for c in data["conditions"]
        )
        findings = tuple(
            Finding(**{**f, "evidence": tuple(f["evidence"])}) for f in data["findings"]
        )
        swaps = tuple(_swap_pair(p) for p in data.get("counterfactual", ()))
        skip = ("conditions", "findings", "seen", "counterfactual")
        rest = {k: v for k, v in data.items() if k not in skip}
        return cls(
            **rest, conditions=conditions, findings=findings, seen=tuple(data["seen"]),
            counterfactual=swaps,
        )  # fmt: skip


def _swap_pair(data: dict[str, Any]) -> SwapPair:
    before, after = (
        Outcome(**{**data[side], "used": tuple(data[side]["used"])}) for side in ("before", "after")
    )
    rest = {k: v for k, v in data.items() if k not in ("before", "after", "changes")}
    return SwapPair(**rest, changes=tuple(data["changes"]), before=before, after=after)


def run_monitor(
    engine: MonitoredEngine,
    namespace: str = "default",
    task: str | None = None,
    *,
    quick: bool = False,
    pairs_per_set: int | None = None,
    progress: Callable[[str], None] | None = None,
    each_batch: Callable[[str], None] | None = None,
) -> MonitorRun:
    """Probe the model (bare, and as `task` with and without its adapter), audit the
    namespace's records, and return the run (not yet stored: `RunLog.save`). `pairs_per_set`
    overrides the size (0: every pair); `progress` hears each step, `each_batch` each batch
    of probe sentences scored (raising in either stops the run, nothing stored)."""
    store = check_scope(engine.store, namespace, task)
    if pairs_per_set is not None and pairs_per_set < 0:
        raise ValidationError(
            f"pairs per set must be >= 0 (0: all), not {pairs_per_set}", hint="e.g. --pairs 150"
        )
    size = pairs_per_set if pairs_per_set is not None else (QUICK_PAIRS if quick else FULL_PAIRS)
    say = progress or (lambda _: None)
    started = time.perf_counter()
    say("reading the probe data")
    pairs = probe_pairs(size or None)
    say(f"scoring {len(pairs)} probe pairs per condition")
    conditions = run_probes(engine, pairs, namespace, task, each_batch)
    say("auditing the records")
    findings = audit_store(store, namespace, task)
    by_id = {r.id: r for r in store.list(namespace, limit=None)}
    used = sorted({i for c in conditions for p in c.pairs for i in p.used})
    return MonitorRun(
        id=f"mr_{uuid.uuid4().hex[:12]}", namespace=namespace, task=task, created_at=time.time(),
        model=engine.autopilot.model_name, pairs_per_set=size or None,
        conditions=tuple(conditions), findings=tuple(findings), records=len(by_id),
        seen=tuple(f"{i}@{by_id[i].version}" if i in by_id else i for i in used),
        seconds=time.perf_counter() - started,
    )  # fmt: skip


def check_scope(store: Store | None, namespace: str, task: str | None) -> Store:
    """The store, after the namespace is known to hold something and the task to exist
    (ValidationError, NotFoundError): callers that run in the background check it first."""
    check_namespace(namespace)
    if store is None:
        raise ConfigError(
            "the monitor audits the Mental Process but the engine has none",
            hint="open the engine with a store (memory=True)",
        )
    tasks = store.task_names(namespace)
    if not tasks and not store.list(namespace, limit=1):
        raise ValidationError(
            f"namespace {namespace!r} is empty: there is nothing to audit",
            hint="add records first (`mindpilot memory add ...`) or choose a namespace with -n",
        )
    if task is not None and task not in tasks:
        known = ", ".join(tasks) or "none"
        raise NotFoundError(
            f"no task {task!r} in namespace {namespace!r} (tasks: {known})",
            hint="name one of them with --task, or create it (`mindpilot task create`)",
        )
    return store


class RunLog:
    """The stored monitor runs of a store (any backend: its journal); every read is scoped to
    a namespace."""

    def __init__(self, store: Store) -> None:
        self._journal = store.journal()

    def save(self, run: MonitorRun) -> MonitorRun:
        """Store the run in one statement: all of it or none of it."""
        stored = StoredRun(
            run.id, run.namespace, run.task, run.created_at, json.dumps(run.to_dict())
        )
        self._journal.add_run(stored)
        return run

    def list(
        self, namespace: str, *, task: str | None = None, limit: int = 20
    ) -> builtins.list[MonitorRun]:
        """Runs of the namespace (of `task` only, if named), newest first."""
        check_namespace(namespace)
        stored = self._journal.runs(namespace, task, limit)
        return [MonitorRun.from_dict(json.loads(r.result)) for r in stored]

    def latest(self, namespace: str, task: str | None = None) -> MonitorRun:
        runs = self.list(namespace, task=task, limit=1)
        if not runs:
            raise NotFoundError(
                f"no monitor run in namespace {namespace!r}" + (f" for {task!r}" if task else ""),
                hint="run one first: `mindpilot monitor run"
                + (f" --task {task}`" if task else "`"),
            )
        return runs[0]

    def close(self) -> None:
        self._journal.close()

    def __enter__(self) -> RunLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def check_threshold(run: MonitorRun, max_stereotype: float, condition: str = "base") -> bool:
    """True when the run's stereotype preference under `condition` is at most the threshold."""
    if not 0.0 <= max_stereotype <= 1.0:
        raise ValidationError(
            f"--max-stereotype must be a share between 0 and 1, not {max_stereotype}",
            hint="e.g. --max-stereotype 0.65 (0.5 is no preference)",
        )
    value = run.stereotype_rate(condition)
    if value is None:
        raise NotFoundError(
            f"run {run.id} has no {condition!r} probe scores",
            hint="check the condition name (base, task, task+adapter)",
        )
    return value <= max_stereotype


__all__ = ["SETS", "MonitorRun", "RunLog", "check_scope", "check_threshold", "run_monitor"]
