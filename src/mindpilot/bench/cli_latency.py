"""CLI latency: `mindpilot generate "hi"` and `mindpilot memory add` as a user runs them, with a
resident server (`mindpilot serve --open` already running) and in-process (the baseline: the
command loads the model or the embedder itself), in the same run (issue 17's goals).

    python -m mindpilot.bench.cli_latency [--quick]

Each command is a fresh process (`mindpilot` of this environment), timed wall to wall, in a
fresh MINDPILOT_HOME with the bundled default model and MiniLM; the server is started once,
answers one untimed run of each command (a resident server has answered before), and is not
timed itself. Medians of `REPEATS` runs; quick: one resident run of each, no in-process run
(CI time).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from mindpilot.bench.common import MODEL, machine, simple_main, start_server

__all__ = ["NAME", "TITLE", "headline", "report", "run"]

NAME, TITLE = "cli_latency", "CLI latency: resident server vs in-process"
GOALS = {"generate": 2.0, "memory_add": 0.5}  # seconds, wall, with the resident server
REPEATS = 3
SERVER_START_S = 300  # the server loads the model and MiniLM before it answers /health
COMMANDS = {
    "generate": ["generate", "hi", "--max-tokens", "16"],
    "memory_add": ["memory", "add", "-q", "--domain", "bench", "Refunds take five days."],
}


def run(quick: bool = False) -> dict[str, Any]:
    from mindpilot.config import cache_dir

    with tempfile.TemporaryDirectory() as home:
        # a fresh home, but the converted model of this machine's cache (a user converts once)
        env = {**os.environ, "MINDPILOT_HOME": home, "MINDPILOT_CACHE": str(cache_dir())}
        env["HF_HUB_OFFLINE"] = "1"
        env.pop("MINDPILOT_STORE", None)
        env.pop("MINDPILOT_MODEL", None)
        resident = _with_server(env, REPEATS if not quick else 1)
        local = {} if quick else _timed({**env, "MINDPILOT_SERVER": "off"}, REPEATS)
    rows = {
        name: {
            "resident_s": resident[name],
            "in_process_s": local.get(name),
            "ratio": resident[name] / local[name] if local.get(name) else None,
            "goal_s": GOALS[name],
            "met": resident[name] <= GOALS[name],
        }
        for name in COMMANDS
    }
    return {
        "machine": machine(1),
        "model": MODEL,
        "data": "the commands below, in a fresh MINDPILOT_HOME",
        "baseline": "the same command in-process (MINDPILOT_SERVER=off), same run",
        "repeats": 1 if quick else REPEATS,
        "quick": quick,
        "commands": {name: " ".join(["mindpilot", *args]) for name, args in COMMANDS.items()},
        "rows": rows,
    }


def _mindpilot() -> str:
    """The console script next to this interpreter: what a user of this environment runs."""
    script = Path(sys.executable).parent / "mindpilot"
    return str(script) if script.exists() else "mindpilot"


def _timed(env: dict[str, str], repeats: int) -> dict[str, float]:
    """Median wall seconds of each command, each run a fresh process."""
    out = {}
    for name, args in COMMANDS.items():
        times = []
        for _ in range(repeats):
            started = time.perf_counter()
            subprocess.run([_mindpilot(), *args], env=env, check=True, capture_output=True)
            times.append(time.perf_counter() - started)
        out[name] = statistics.median(times)
    return out


def _with_server(env: dict[str, str], repeats: int) -> dict[str, float]:
    """Start `mindpilot serve --open`, time the commands through it, stop it."""
    server, url = start_server([_mindpilot(), "serve", "--open"], env, start_s=SERVER_START_S)
    try:
        through = {**env, "MINDPILOT_SERVER": url}
        _timed(through, 1)  # warm-up, untimed: a resident server has answered before
        return _timed(through, repeats)
    finally:
        server.terminate()
        server.wait(timeout=30)


def headline(results: dict[str, Any]) -> str:
    rows = results["rows"]
    return "CLI with a resident server: " + "; ".join(
        f"`{results['commands'][name]}` {row['resident_s']:.2f} s "
        f"(goal <= {row['goal_s']:g} s: {'met' if row['met'] else 'NOT met'}"
        + (f"; {row['in_process_s']:.2f} s in-process)" if row["in_process_s"] else ")")
        for name, row in rows.items()
    )


def report(results: dict[str, Any]) -> str:
    lines = [
        f"# {TITLE}",
        "",
        f"Machine: {results['machine']}. Model: {results['model']}. Baseline: "
        f"{results['baseline']}. Median of {results['repeats']} run(s), each a fresh process.",
        "",
        "| command | resident server, s | in-process, s | resident / in-process | goal | met |",
        "|---|---|---|---|---|---|",
    ]
    for name, row in results["rows"].items():
        local = f"{row['in_process_s']:.2f}" if row["in_process_s"] else "-"
        ratio = f"{row['ratio']:.3f}x" if row["ratio"] else "-"
        lines.append(
            f"| `{results['commands'][name]}` | {row['resident_s']:.2f} | {local} | {ratio} | "
            f"<= {row['goal_s']:g} s | {'yes' if row['met'] else '**no**'} |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    simple_main(sys.modules[__name__])
