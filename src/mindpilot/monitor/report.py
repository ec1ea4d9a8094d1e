"""The monitor's report: Markdown and one self-contained HTML page (plots as inline SVG).

Made from stored runs (the latest first): per-category stereotype preference by condition
with 95% intervals, the trend over runs, and the data-audit findings with the command that
fixes each; and, from the audit log, how often each task's answers carried the tone asked,
day by day.
"""

from __future__ import annotations

import html
import io
import time
from collections.abc import Sequence
from pathlib import Path

from mindpilot.monitor.audit import Adherence
from mindpilot.monitor.counterfactual import Outcome
from mindpilot.monitor.probe_data import SETS
from mindpilot.monitor.probes import CONDITIONS, Rate
from mindpilot.monitor.runs import MonitorRun

_SET_NAMES = {"crows_pairs": "CrowS-Pairs", "stereoset": "StereoSet"}


def _pct(r: Rate | None) -> str:
    if r is None:
        return "-"
    return f"{r.rate:.0%} [{r.low:.0%}, {r.high:.0%}]"


def _margin(r: Rate | None) -> str:
    return "-" if r is None else f"{r.mean_margin:+.2f} [{r.margin_low:+.2f}, {r.margin_high:+.2f}]"


def markdown(runs: Sequence[MonitorRun], adherence: Sequence[Adherence] = ()) -> str:
    """The report over `runs` (newest first): the latest in detail, the trend, then the
    tone adherence of the audit log (`AuditLog.tone_adherence`)."""
    run = runs[0]
    when = time.strftime("%Y-%m-%d %H:%M", time.localtime(run.created_at))
    size = "all" if run.pairs_per_set is None else run.pairs_per_set
    lines = [
        f"# Bias and data monitor: {run.namespace}" + (f" / {run.task}" if run.task else ""),
        "",
        f"Run `{run.id}` at {when} on `{run.model}`: {size} probe pairs per set, "
        f"{run.records} records in the namespace, {len(run.seen)} of them in probe prompts, "
        f"{run.seconds:.0f} s.",
        "",
        "Stereotype preference: the share of pairs where the model finds the stereotyped "
        "sentence likelier (0.5 = no preference), with its 95% Wilson interval; margin: the "
        "mean log-likelihood difference in nats (95% interval).",
        "",
        "| condition | set | pairs | stereotype preference | mean margin |",
        "|---|---|---|---|---|",
    ]
    for c in run.conditions:
        if not c.pairs:
            lines.append(f"| {c.condition} | - | 0 | skipped: {c.note} | - |")
            continue
        for s in SETS:
            r = c.rate(s)
            n = r.n if r else 0
            lines.append(f"| {c.condition} | {_SET_NAMES[s]} | {n} | {_pct(r)} | {_margin(r)} |")
    lines += ["", "## By category", ""]
    scored = [c for c in run.conditions if c.pairs]
    lines.append("| set | category | " + " | ".join(c.condition for c in scored) + " |")
    lines.append("|---|---|" + "---|" * len(scored))
    for s in SETS:
        for cat in scored[0].categories(s) if scored else []:
            cells = " | ".join(_pct(c.rate(s, cat)) for c in scored)
            lines.append(f"| {_SET_NAMES[s]} | {cat} | {cells} |")
    lines += ["", *_findings_md(run), "", *_counterfactual_md(run), "", *_trend_md(runs)]
    lines += ["", *_adherence_md(adherence)]
    return "\n".join(lines) + "\n"


def _findings_md(run: MonitorRun) -> list[str]:
    lines = [f"## Data audit: {len(run.findings)} finding(s)", ""]
    if not run.findings:
        return [*lines, "No stored record was flagged."]
    lines += [
        "| record | kind | version | flagged as | evidence | fix |",
        "|---|---|---|---|---|---|",
    ]
    for f in run.findings:
        evidence = ", ".join(f.evidence[:3]).replace("|", "/")
        lines.append(
            f"| `{f.record_id}` | {f.record_kind} | {f.version} | {f.kind} | {evidence} "
            f"| `{f.fix}` |"
        )
    return [*lines, "", "Each fix is undoable: `mindpilot memory undo` brings the record back."]


def _counterfactual_md(run: MonitorRun, worst: int = 10) -> list[str]:
    pairs = run.counterfactual
    lines = [f"## The task's traffic with genders and names swapped: {len(pairs)} pair(s)", ""]
    if not pairs:
        why = "no task was named" if run.task is None else "no input named a gender or a name"
        return [*lines, f"Nothing to compare: {why}."]
    flips = sum(p.flipped for p in pairs)
    lines += [
        f"{flips} of {len(pairs)} pairs treated differently (a label flip, or a refusal on one "
        "side only); gap = 1 per flip + the shift in the original label's probability "
        "(classification) or in the answer's sentiment (generation). Worst first:",
        "",
        "| gap | axis | from | change | before | after | records (before / after) |",
        "|---|---|---|---|---|---|---|",
    ]
    for p in pairs[:worst]:
        lines.append(
            f"| {p.gap:.2f} | {p.axis} | `{p.source}` | {', '.join(p.changes[:4])} "
            f"| {_side(p.before)} | {_side(p.after)} "
            f"| {_ids(p.before.used)} / {_ids(p.after.used)} |"
        )
    return lines


def _side(o: Outcome) -> str:
    if o.probability is not None:
        return f"{o.answer} (p {o.probability:.2f})"
    text = o.answer if len(o.answer) <= 60 else o.answer[:57] + "..."
    refused = ", refused" if o.refused else ""
    return f"{text} (sentiment {o.sentiment:+.2f}, {o.words} words{refused})".replace("|", "/")


def _ids(used: Sequence[str]) -> str:
    return ", ".join(f"`{i}`" for i in used[:3]) or "none"


def _trend_md(runs: Sequence[MonitorRun]) -> list[str]:
    lines = ["## Trend over runs (newest first)", "", "| run | at | " + " | ".join(CONDITIONS)]
    lines[-1] += " | findings |"
    lines.append("|---|---|" + "---|" * (len(CONDITIONS) + 1))
    for run in runs:
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(run.created_at))
        cells = []
        for name in CONDITIONS:
            value = run.stereotype_rate(name)
            cells.append("-" if value is None else f"{value:.1%}")
        lines.append(f"| `{run.id}` | {when} | {' | '.join(cells)} | {len(run.findings)} |")
    return lines


def _adherence_md(adherence: Sequence[Adherence]) -> list[str]:
    lines = ["## Tone adherence (audit log)", ""]
    if not adherence:
        return [*lines, "No answer in the log was asked for a measured tone."]
    lines += [
        "Answers asked for a measured tone, by task and day (UTC), and the share that the "
        "tone scorer says carried it (`mindpilot log tone`).",
        "",
        "| task | tone | day | answers | carried | adherence |",
        "|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {a.task or '-'} | {a.tone} | {a.day} | {a.answers} | {a.carried} | {a.rate:.0%} |"
        for a in adherence
    ]
    return lines


def write(
    runs: Sequence[MonitorRun], folder: Path, adherence: Sequence[Adherence] = ()
) -> tuple[Path, Path]:
    """monitor.md and monitor.html (self-contained) in `folder`; returns both paths."""
    folder.mkdir(parents=True, exist_ok=True)
    text = markdown(runs, adherence)
    md_path, html_path = folder / "monitor.md", folder / "monitor.html"
    md_path.write_text(text)
    html_path.write_text(page(runs, text))
    return md_path, html_path


def plots(runs: Sequence[MonitorRun]) -> list[str]:
    """The report's plots as inline SVG: the latest run by category, then the trend."""
    return [_category_svg(runs[0]), _trend_svg(runs)]


def page(runs: Sequence[MonitorRun], text: str) -> str:
    """The HTML page: the plots inline, then the report's tables."""
    body = [f"<div class='plot'>{svg}</div>" for svg in plots(runs)]
    body.append(_markdown_html(text))
    title = html.escape(text.splitlines()[0].lstrip("# "))
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{title}</title><style>"
        "body{font-family:sans-serif;max-width:70em;margin:2em auto;padding:0 1em}"
        "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:.2em .5em}"
        "code{background:#f4f4f4}.plot svg{max-width:100%;height:auto}"
        f"</style></head><body>{''.join(body)}</body></html>\n"
    )


def _markdown_html(text: str) -> str:
    """The little Markdown the report uses (headings, paragraphs, tables, `code`)."""
    out: list[str] = []
    for line in text.splitlines():
        cell = _inline(line)
        if line.startswith("#"):
            level = len(line) - len(line.lstrip("#"))
            out.append(f"<h{level}>{_inline(line.lstrip('# '))}</h{level}>")
        elif line.startswith("|---"):
            continue
        elif line.startswith("|"):
            cells = "".join(f"<td>{c.strip()}</td>" for c in cell.strip("|").split("|"))
            out.append(f"<tr>{cells}</tr>")
        elif line.strip():
            out.append(f"<p>{cell}</p>")
    joined = "\n".join(out)
    return joined.replace("<tr>", "<table><tr>", 1) if "<tr>" in joined else joined


def _inline(line: str) -> str:
    parts = html.escape(line).split("`")
    return "".join(f"<code>{p}</code>" if i % 2 else p for i, p in enumerate(parts))


def _category_svg(run: MonitorRun) -> str:
    import matplotlib

    matplotlib.use("Agg")  # files only: CI and servers have no display
    import matplotlib.pyplot as plt

    scored = [c for c in run.conditions if c.pairs]
    labels = [(s, cat) for s in SETS for cat in scored[0].categories(s)] if scored else []
    fig, ax = plt.subplots(figsize=(7.5, 0.28 * len(labels) + 1.6))
    height = 0.8 / max(1, len(scored))
    for k, c in enumerate(scored):
        rates = [c.rate(s, cat) for s, cat in labels]
        ys = [i + k * height for i in range(len(labels))]
        xs = [r.rate if r else 0.0 for r in rates]
        err = [
            [r.rate - r.low if r else 0 for r in rates],
            [r.high - r.rate if r else 0 for r in rates],
        ]
        ax.barh(ys, xs, height=height, xerr=err, label=c.condition, capsize=2)
    ax.axvline(0.5, color="grey", linestyle="--", linewidth=1)
    ax.set_yticks([i + 0.4 - height / 2 for i in range(len(labels))])
    ax.set_yticklabels([f"{_SET_NAMES[s]}: {cat}" for s, cat in labels], fontsize=8)
    ax.set(xlim=(0, 1), xlabel="stereotype preference (95% CI); 0.5 = none")
    ax.set_title("Stereotype preference by category and condition", fontsize=11)
    ax.legend(fontsize=8)
    return _svg(fig)


def _trend_svg(runs: Sequence[MonitorRun]) -> str:
    import matplotlib.pyplot as plt

    ordered = list(reversed(runs))
    fig, ax = plt.subplots(figsize=(7.5, 3.0))
    for name in CONDITIONS:
        points = [(i, r.stereotype_rate(name)) for i, r in enumerate(ordered)]
        kept = [(i, v) for i, v in points if v is not None]
        if kept:
            ax.plot([i for i, _ in kept], [v for _, v in kept], "o-", label=name)
    ax.axhline(0.5, color="grey", linestyle="--", linewidth=1)
    ax.set(ylim=(0, 1), xlabel="run (oldest to newest)", ylabel="stereotype preference")
    ax.set_xticks(range(len(ordered)))
    ax.set_title("Trend over runs", fontsize=11)
    ax.legend(fontsize=8)
    return _svg(fig)


def _svg(fig: object) -> str:
    import matplotlib.pyplot as plt

    buffer = io.StringIO()
    fig.tight_layout()  # type: ignore[attr-defined]
    fig.savefig(buffer, format="svg")  # type: ignore[attr-defined]
    plt.close(fig)  # type: ignore[arg-type]
    text = buffer.getvalue()
    return text[text.index("<svg") :]  # the XML prolog and doctype do not belong inline
