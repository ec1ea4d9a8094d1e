"""The store backends benchmark's table and plot from a results dict of its shape (the run
itself starts a PostgreSQL server and takes minutes: `mindpilot bench stores`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mindpilot.bench import plots, store_backends


def results() -> dict[str, Any]:
    ms = {"p50": 1.0, "p99": 2.0}
    search = {m: {"new_ms": ms, "cached_ms": ms} for m in store_backends.MODES}
    rows = [{"size": n, "bulk_per_s": 1000.0, "index_ready_s": 1.0, "search": search,
             "recall_at_10": 0.99} for n in (1000, 5000)]  # fmt: skip
    concurrency = {f"{role}_{n}": {"ops_per_s": 10.0 * n, "lost": 0}
                   for role in ("write", "read") for n in (1, 2, 4)}  # fmt: skip
    for n in (1, 2, 4):
        del concurrency[f"read_{n}"]["lost"]
    backend = {"sizes": rows, "single_add_ms": ms, "concurrency": concurrency}
    return {"machine": "test", "data": "d", "baseline": "b", "goals": "g", "skipped": "1M",
            "load_average_start": 1.0, "load_average_end": 1.5,
            "backends": {b: backend for b in store_backends.BACKENDS}}  # fmt: skip


def test_report_and_plot(tmp_path: Path) -> None:
    table = store_backends.report(results())
    assert "| 5,000 | postgresql | 1,000 | 1.0 | 1.0 (2.0) · 1.0 (2.0) |" in table
    assert "| sqlite | 1.00 / 2.00 | 10 | 20 | 40 | 10 | 20 | 40 | 0 |" in table
    plots.store_backends(results(), tmp_path / "p.png")
    assert (tmp_path / "p.png").read_bytes()[:4] == b"\x89PNG"
