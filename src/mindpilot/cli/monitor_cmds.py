"""`mindpilot monitor run | report | check | list`: bias probes and the data audit, kept per run."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import click

from mindpilot.cli.memory_cmds import opened, store_options
from mindpilot.cli.model_cmds import model_options, open_engine
from mindpilot.cli.output import emit_json, table


@click.group("monitor")
def monitor() -> None:
    """Bias and data monitoring: probes of the model per task, an audit of the records."""


@monitor.command("run")
@click.option("--task", default=None, help="Also probe the model conditioned as this task.")
@click.option("--quick", is_flag=True, help="10 probe pairs per set (~1 min): a smoke test.")
@click.option(
    "--pairs",
    type=int,
    default=None,
    help="Probe pairs per set (default 150; 0 = all 2,036+4,228).",
)
@model_options
@store_options
def run_cmd(
    task: str | None, quick: bool, pairs: int | None, namespace: str, store_path: Path | None,
    as_json: bool, **load: Any,
) -> None:  # fmt: skip
    """Probe the model (bare, as TASK, with TASK's adapter), audit the namespace's records,
    replay TASK's traffic with genders and names swapped, and store the run. Nothing is stored
    if it is interrupted."""
    from mindpilot.applications.traffic_probe import monitor_task
    from mindpilot.monitor.runs import RunLog

    # lazy: a wrong namespace or task is reported before the model loads
    with open_engine(load, store=store_path, audit=False, lazy=True) as engine:
        run = monitor_task(
            engine, namespace, task, quick=quick, pairs_per_set=pairs,
            progress=lambda step: click.echo(f"... {step}", err=True),
        )  # fmt: skip
        assert engine.store is not None
        with RunLog(engine.store) as log:
            log.save(run)
    if as_json:
        emit_json(run.to_dict())
        return
    _summary(run)


def _summary(run: object) -> None:
    from mindpilot.monitor.runs import MonitorRun

    assert isinstance(run, MonitorRun)
    rows = []
    for c in run.conditions:
        r = c.rate()
        if r is None:
            rows.append((c.condition, 0, "skipped", "-"))
            continue
        rows.append((c.condition, r.n, f"{r.rate:.0%} [{r.low:.0%}, {r.high:.0%}]",
                     f"{r.mean_margin:+.3f} nats"))  # fmt: skip
    table(
        f"run {run.id} ({run.seconds:.0f} s)", ("condition", "pairs", "stereotype", "margin"), rows
    )
    for c in run.conditions:
        if c.note:
            click.echo(f"{c.condition}: {c.note}")
    for f in run.findings:
        click.echo(f"finding {f.record_id} ({f.record_kind} v{f.version}, {f.kind}): "
                   f"{', '.join(f.evidence[:3])}\n  fix: {f.fix}")  # fmt: skip
    click.echo(f"{len(run.findings)} finding(s); `mindpilot monitor report` writes the report")


@monitor.command("report")
@click.option("--task", default=None, help="Runs of this task only.")
@click.option("--runs", "limit", type=click.IntRange(min=1), default=20, show_default=True)
@click.option(
    "--out", type=click.Path(file_okay=False, path_type=Path), default=None,
    help="Folder for monitor.md and monitor.html (default: MINDPILOT_HOME/monitor).",
)  # fmt: skip
@store_options
def report_cmd(
    task: str | None, limit: int, out: Path | None, namespace: str, store_path: Path | None,
    as_json: bool,
) -> None:  # fmt: skip
    """Write the report of the latest runs: Markdown and a self-contained HTML page."""
    from mindpilot import config
    from mindpilot.monitor import report
    from mindpilot.monitor.audit import AuditLog
    from mindpilot.monitor.runs import RunLog

    with opened(store_path) as store, RunLog(store) as log, AuditLog(store) as audit:
        log.latest(namespace, task)  # a clear error when there is none
        runs = log.list(namespace, task=task, limit=limit)
        adherence = audit.tone_adherence(namespace, task=task)
    md, page = report.write(runs, out or config.home() / "monitor", adherence)
    if as_json:
        emit_json({"markdown": str(md), "html": str(page), "runs": len(runs)})
        return
    click.echo(f"wrote {md} and {page} ({len(runs)} run(s))")


@monitor.command("check")
@click.option("--max-stereotype", type=float, required=True,
              help="Highest stereotype preference allowed (0..1; 0.5 = none).")  # fmt: skip
@click.option("--condition", default="base", show_default=True, help="base, task or task+adapter.")
@click.option("--task", default=None, help="The latest run of this task.")
@store_options
def check_cmd(
    max_stereotype: float, condition: str, task: str | None, namespace: str,
    store_path: Path | None, as_json: bool,
) -> None:  # fmt: skip
    """Exit 1 when the latest run's stereotype preference is over the threshold (a CI gate)."""
    from mindpilot.monitor.runs import RunLog, check_threshold

    with opened(store_path) as store, RunLog(store) as log:
        run = log.latest(namespace, task)
        ok = check_threshold(run, max_stereotype, condition)
    value = run.stereotype_rate(condition)
    if as_json:
        emit_json({"run": run.id, "condition": condition, "value": value, "ok": ok})
    else:
        verdict = "ok" if ok else "over the threshold"
        click.echo(f"{run.id} {condition}: {value:.1%} (max {max_stereotype:.1%}): {verdict}")
    if not ok:
        sys.exit(1)


@monitor.command("list")
@click.option("--task", default=None, help="Runs of this task only.")
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True)
@store_options
def list_cmd(
    task: str | None, limit: int, namespace: str, store_path: Path | None, as_json: bool
) -> None:
    """Stored runs, newest first: the stereotype preference per condition and the findings."""
    from mindpilot.monitor.probes import CONDITIONS
    from mindpilot.monitor.runs import RunLog

    with opened(store_path) as store, RunLog(store) as log:
        runs = log.list(namespace, task=task, limit=limit)
    if as_json:
        emit_json([{"id": r.id, "task": r.task, "created_at": r.created_at,
                    **{c: r.stereotype_rate(c) for c in CONDITIONS},
                    "findings": len(r.findings)} for r in runs])  # fmt: skip
        return
    rows = []
    for r in runs:
        rates = [r.stereotype_rate(c) for c in CONDITIONS]
        cells = ["-" if v is None else f"{v:.1%}" for v in rates]
        at = time.strftime("%Y-%m-%d %H:%M", time.localtime(r.created_at))
        rows.append((r.id, at, r.task or "-", *cells, len(r.findings)))
    table(
        f"{len(rows)} run(s) in {namespace!r}", ("id", "at", "task", *CONDITIONS, "findings"), rows
    )


COMMANDS = [monitor]
