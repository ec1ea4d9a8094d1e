"""Run the benchmarks, write each one's JSON and Markdown, and build the report.

    python -m mindpilot.bench.suite [speed|quality|safety|stores|all] [--quick] [--out DIR]

(`mindpilot bench` is the same.) DIR defaults to $MINDPILOT_HOME/bench; the repository's
report is written with `--out docs/benchmarks`. The report, DIR/REPORT.md with its PNG figures,
covers every benchmark whose JSON is in DIR, so `speed` and `quality` can be run apart.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

from mindpilot.bench import (
    adapter_curve,
    cli_latency,
    injection,
    model_speed,
    monitor_bias,
    qa,
    retrieval,
    search_speed,
    self_taking_cost,
    sentiment_curve,
    server_speed,
    store_backends,
    store_speed,
    tone_control,
)
from mindpilot.bench.common import add_out_option, default_out_dir, write_results

GROUPS: dict[str, tuple[ModuleType, ...]] = {
    "speed": (
        search_speed,
        store_speed,
        model_speed,
        self_taking_cost,
        server_speed,
        cli_latency,
    ),
    "quality": (qa, retrieval, sentiment_curve, adapter_curve, tone_control),
    "safety": (injection, monitor_bias),
}
GROUPS["all"] = GROUPS["speed"] + GROUPS["quality"] + GROUPS["safety"]
# needs a PostgreSQL server it starts itself (~15 min at 10k and 100k records): run on its own
GROUPS["stores"] = (store_backends,)


def run_suite(
    which: str, *, quick: bool, out_dir: Path, echo: Callable[[str], None] = print
) -> Path:
    """Run the group `which` ("speed", "quality" or "all"); returns the report's path."""
    from mindpilot.bench.report import build_report

    for module in GROUPS[which]:
        echo(f"bench: {module.NAME}{' (quick)' if quick else ''}...")
        started = time.perf_counter()
        results: dict[str, Any] = module.run(quick=quick)
        results["run"] = {
            "quick": quick,
            "seconds": time.perf_counter() - started,
            "finished": datetime.now(UTC).isoformat(timespec="seconds"),
            # other work on the machine slows every figure: say how busy it was
            "load_average_1min": os.getloadavg()[0],
        }
        write_results(out_dir, module.NAME, module.TITLE, results, module.report(results))
        echo(f"bench: {module.NAME} done in {results['run']['seconds']:.0f} s")
    return build_report(out_dir)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("which", nargs="?", default="all", choices=sorted(GROUPS))
    parser.add_argument("--quick", action="store_true", help="small sizes; a few minutes")
    add_out_option(parser)
    args = parser.parse_args()
    print(run_suite(args.which, quick=args.quick, out_dir=args.out or default_out_dir()))


if __name__ == "__main__":
    main()
