"""The report's figures (matplotlib, Agg: no display needed). Each takes one benchmark's
results and writes a PNG; titles and captions name the baseline of the same run."""

from __future__ import annotations

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
    """NarrativeQA EM / F1 and BoolQ accuracy per condition, majority line for BoolQ."""
    narrative, boolq = results["narrativeqa"], results["boolq"]
    conditions = list(narrative["conditions"])
    fig, (left, right) = plt.subplots(1, 2, figsize=(9.6, 4.0))
    xs = range(len(conditions))
    for offset, (key, label) in ((-0.2, ("em", "exact match")), (0.2, ("f1", "token F1"))):
        values = [narrative["conditions"][c][key] for c in conditions]
        left.bar([x + offset for x in xs], values, width=0.4, label=label)
    left.set_title(f"NarrativeQA ({narrative['questions']} questions)", fontsize=11)
    accuracy = [boolq["conditions"][c]["accuracy"] for c in conditions]
    right.bar(xs, accuracy, width=0.6, color="tab:green")
    right.axhline(boolq["majority_accuracy"], color="grey", ls="--", label="majority answer")
    right.set_title(f"BoolQ ({boolq['questions']} questions)", fontsize=11)
    right.set_ylim(0, 1)
    for ax in (left, right):
        ax.set_xticks(list(xs), [_wrap(c) for c in conditions], fontsize=8)
        ax.legend(fontsize=8)
    fig.suptitle(f"{results['machine']}", fontsize=7)
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


def _wrap(label: str) -> str:
    return label.replace(" (", "\n(")


def _finish(fig: Any, ax: Any, machine: str, path: Path) -> None:
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.text(0.01, 0.01, machine, fontsize=6, color="grey")
    _save(fig, path)


def _save(fig: Any, path: Path) -> None:
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    fig.savefig(path, dpi=110)
    plt.close(fig)
