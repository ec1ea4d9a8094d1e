"""The report's figures (matplotlib, Agg: no display needed). Each takes one benchmark's
results and writes a PNG; titles and captions name the baseline of the same run."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only: CI and servers have no display

import matplotlib.pyplot as plt


def search_latency(results: dict[str, Any], path: Path) -> None:
    """p50 ms vs number of vectors: ANN index and exact scan, without and with the query
    embedding (an uncached MiniLM query, its p50 added)."""
    rows = results["search"]
    sizes = [r["size"] for r in rows]
    embed = results["embedding"]["query_uncached_ms"]["p50"]
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for key, label, style in (
        ("ann", "HNSW index", "o-"),
        ("exact", "exact scan (baseline)", "s--"),
    ):
        p50 = [r[f"{key}_ms"]["p50"] for r in rows]
        ax.plot(sizes, p50, style, label=f"{label}, cached query")
        ax.plot(sizes, [v + embed for v in p50], style, alpha=0.45, label=f"{label} + embedding")
    ax.set(xscale="log", yscale="log", xlabel="vectors in the index", ylabel="p50 latency (ms)")
    ax.set_title("Vector search, k=10", fontsize=11)
    _finish(fig, ax, results["machine"], path)


def store_backends(results: dict[str, Any], path: Path) -> None:
    """Left: cached-query search p50 per mode against records, SQLite and PostgreSQL.
    Right: ops/s of 1, 2 and 4 concurrent writer and reader processes."""
    styles = {"sqlite": "o-", "postgresql": "s--"}
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4.2))
    for backend, data in results["backends"].items():
        sizes = [r["size"] for r in data["sizes"]]
        for mode in ("hybrid", "vector", "keyword"):
            p50 = [r["search"][mode]["cached_ms"]["p50"] for r in data["sizes"]]
            left.plot(sizes, p50, styles[backend], label=f"{backend} {mode}")
        for role in ("write", "read"):
            rates = [data["concurrency"][f"{role}_{n}"]["ops_per_s"] for n in (1, 2, 4)]
            right.plot([1, 2, 4], rates, styles[backend], label=f"{backend} {role}")
    left.set(xscale="log", yscale="log", xlabel="records", ylabel="p50 ms, cached query")
    left.set_title("Search, k=10", fontsize=11)
    right.set(xlabel="concurrent processes", ylabel="operations / s", xticks=[1, 2, 4])
    right.set_title("Concurrent writers and readers", fontsize=11)
    right.legend(fontsize=8)
    right.grid(alpha=0.3)
    _finish(fig, left, results["machine"], path)


def self_taking_split(results: dict[str, Any], path: Path) -> None:
    """Stacked median wall time per request: retrieval, prompt processing, decoding."""
    modes = list(results["rows"])
    parts = (("retrieval_ms", "retrieval"), ("prompt_ms", "prompt processing"),
             ("decode_ms", "decoding"))  # fmt: skip
    fig, ax = plt.subplots(figsize=(6.4, 3.6))
    left = [0.0] * len(modes)
    for key, label in parts:
        values = [results["rows"][m][key] for m in modes]
        ax.barh(modes, values, left=left, label=label)
        left = [a + b for a, b in zip(left, values, strict=True)]
    ax.set_xlabel("median ms per request")
    ax.set_title("Cost of self-taking (same questions, same run)", fontsize=11)
    _finish(fig, ax, results["machine"], path)


def qa_conditions(results: dict[str, Any], path: Path) -> None:
    """Left: NarrativeQA exact match / token F1 / "contains a reference" per condition.
    Right: on knowledge conflicts, the share of answers that follow the stored passage (and
    that give the memorised answer) against the context-aware decoding alpha (0 = today's
    composition), with the other conditions as lines and the goal marked."""
    from mindpilot.bench import qa_conditions as qc
    from mindpilot.bench.qa_report import FOLLOWS_GOAL

    if "conflicts" not in results:  # an earlier version's results: nothing to compare
        fig, ax = plt.subplots(figsize=(6.4, 1.2))
        ax.axis("off")
        ax.text(0.5, 0.5, "results of an earlier version: rerun mindpilot.bench.qa", ha="center")
        _save(fig, path)
        return
    narrative, conflicts = results["narrativeqa"], results["conflicts"]
    conditions = list(narrative["conditions"])
    fig, (left, right) = plt.subplots(1, 2, figsize=(11.2, 4.6), width_ratios=(3, 2))
    xs = range(len(conditions))
    for offset, key, label in ((-0.27, "em", "exact match"), (0.0, "f1", "token F1"),
                               (0.27, "contains", "contains a reference")):  # fmt: skip
        values = [narrative["conditions"][c][key] for c in conditions]
        left.bar([x + offset for x in xs], values, width=0.27, label=label)
    left.set_xticks(list(xs), [textwrap.fill(c, 14) for c in conditions], fontsize=6.5)
    left.set_ylim(0, 1)
    left.set_title(f"NarrativeQA ({narrative['questions']} questions)", fontsize=11)
    alphas = [0.0, *results["plan"]["alphas"]]
    rows = [conflicts["conditions"][qc.MEMORY.name]]
    rows += [conflicts["conditions"][qc.faithful(a).name] for a in alphas[1:]]
    right.plot(alphas, [r["follows"] for r in rows], "o-", label="follows the passage")
    right.plot(alphas, [r["memorised"] for r in rows], "s--", label="memorised answer")
    lines = ((qc.EXTRACTIVE, "tab:green"), (qc.SHORT, "tab:purple"), (qc.READER, "tab:orange"),
             (qc.EXTRACTIVE_READER, "tab:brown"), (qc.GOLD, "grey"))  # fmt: skip
    for condition, color in lines:
        if condition.name not in conflicts["conditions"]:  # results from before the reader
            continue
        follows = conflicts["conditions"][condition.name]["follows"]
        right.axhline(follows, color=color, ls="-.", alpha=0.7, label=f"{condition.name}")
    right.axhline(FOLLOWS_GOAL, color="red", ls=":", label="goal")
    right.set(xlabel="context-aware decoding alpha", ylabel="share of answers", ylim=(0, 1.02))
    right.set_xticks(alphas, [f"{a:g}" for a in alphas])
    right.set_title(f"Knowledge conflicts ({conflicts['questions']} swapped)", fontsize=11)
    for ax in (left, right):
        ax.legend(fontsize=7)
        ax.grid(alpha=0.3)
    fig.text(0.01, 0.01, results["machine"], fontsize=6, color="grey")
    _save(fig, path)


def sentiment_curve(results: dict[str, Any], path: Path) -> None:
    """Accuracy (± 1 s.e.) vs labelled examples stored, with majority and chance lines."""
    curve = results["curve"]
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    xs = [str(r["stored"]) for r in curve]  # categorical: 0 has no place on a log axis
    ax.errorbar(xs, [r["accuracy"] for r in curve], yerr=[r["stderr"] for r in curve],
                fmt="o-", capsize=4, label="mindpilot classify")  # fmt: skip
    ax.axhline(results["majority_accuracy"], color="grey", ls="--", label="majority class")
    ax.axhline(results["chance_accuracy"], color="black", ls=":", label="chance")
    ax.set(xlabel="labelled examples stored", ylabel="accuracy", ylim=(0.3, 1.0))
    ax.set_title(f"Sentiment, VADER movie reviews ({results['items']} sentences)", fontsize=11)
    _finish(fig, ax, results["machine"], path)


def tone_control(results: dict[str, Any], path: Path) -> None:
    """Per tone: adherence and fact rate by condition (no emotion, prompt line, intensities)."""
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    for tone, rows in results["tones"].items():
        xs = [r["condition"].replace("steering at ", "steer ") for r in rows]
        ax.plot(xs, [r["adherence"] for r in rows], "o-", label=f"{tone}: adherence")
        ax.plot(xs, [r["fact_rate"] for r in rows], "s--", label=f"{tone}: fact rate")
    ax.axhline(0.8, color="grey", ls=":", label="goal: adherence 80% at 1")
    ax.set(xlabel="condition", ylabel="share of answers", ylim=(0.0, 1.05))
    ax.set_title("Tone control: adherence vs intensity, fact kept?", fontsize=11)
    _finish(fig, ax, results["machine"], path)


def adapter_curve(results: dict[str, Any], path: Path) -> None:
    """Left: sentiment accuracy (± 1 s.e.) vs training examples n (log x) for zero-shot,
    in-context and adapter, goals marked. Right: passage-QA EM / F1 per condition."""
    sentiment, qa = results["sentiment"], results["qa"]
    curve = sentiment["curve"]
    ns = [row["n"] for row in curve]
    fig, (left, right) = plt.subplots(1, 2, figsize=(10.4, 4.2), width_ratios=(3, 2))
    zero = sentiment["zero-shot"]
    left.axhline(zero["accuracy"], color="grey", ls="--", label="zero-shot (baseline)")
    left.axhspan(
        zero["accuracy"] - zero["stderr"],
        zero["accuracy"] + zero["stderr"],
        color="grey",
        alpha=0.12,
    )
    for key, label, style in (
        ("in-context", "in-context examples", "s-"),
        ("adapter", "adapter", "o-"),
    ):
        accuracy = [r[key]["accuracy"] for r in curve]
        stderr = [r[key]["stderr"] for r in curve]
        left.errorbar(ns, accuracy, yerr=stderr, fmt=style, capsize=4, label=label)
    goals = {int(n): g for n, g in results["goals"]["accuracy_at_n"].items()}
    left.plot(list(goals), list(goals.values()), "r_", markersize=18, mew=2, label="goal")
    left.axhline(sentiment["chance_accuracy"], color="black", ls=":", label="chance")
    left.set_xscale("log", base=2)
    left.set_xticks(sorted(set(ns) | set(goals)), [str(n) for n in sorted(set(ns) | set(goals))])
    left.set(
        xlabel="training examples n (stored; the adapter holds out 20% to validate)",
        ylabel="accuracy",
        ylim=(0.3, 1.0),
    )
    left.set_title(
        f"Sentiment, VADER movie reviews ({sentiment['test_items']} held out)", fontsize=11
    )
    conditions = list(qa["conditions"])
    xs = range(len(conditions))
    for offset, key, label in ((-0.2, "em", "exact match"), (0.2, "f1", "token F1")):
        values = [qa["conditions"][c][key] for c in conditions]
        right.bar([x + offset for x in xs], values, width=0.4, label=label)
    right.set_xticks(list(xs), [textwrap.fill(c, 16) for c in conditions], fontsize=7)
    right.set_ylim(0, 1)
    right.set_title(f"Passage QA ({qa['plan']['test']} held-out questions)", fontsize=11)
    for ax in (left, right):
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
    fig.text(0.01, 0.01, results["machine"], fontsize=6, color="grey")
    _save(fig, path)


def _finish(fig: Any, ax: Any, machine: str, path: Path) -> None:
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.text(0.01, 0.01, machine, fontsize=6, color="grey")
    _save(fig, path)


def _save(fig: Any, path: Path) -> None:
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    fig.savefig(path, dpi=110)
    plt.close(fig)
