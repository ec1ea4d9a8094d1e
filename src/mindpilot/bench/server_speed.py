"""`mindpilot serve` speed on the default model: time to first token and decode tokens/s over
HTTP (the official openai client, streaming) against the baseline measured in the same run,
in-process `Engine.stream` for the same request; then 8 and 32 simultaneous clients (completed,
errors by status, p50/p95 latency, throughput) with the default queue (1 running, 16 waiting).

    python -m mindpilot.bench.server_speed [--quick] [--out FOLDER]

Writes FOLDER/server_speed.json and .md (default $MINDPILOT_HOME/bench) and prints the table.
The server runs in this process (uvicorn in a thread, on loopback), so client and server share
the machine's cores.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from mindpilot.bench.common import (
    MODEL,
    add_out_option,
    default_out_dir,
    machine,
    set_threads,
    write_results,
)

NAME, TITLE = "server_speed", "Server speed"
PROMPT = "Explain in a few sentences why the sky is blue."


def run(quick: bool = False) -> dict[str, Any]:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from mindpilot.autopilot import Autopilot
    from mindpilot.engine import Engine
    from mindpilot.mental_process import open_store
    from mindpilot.server import create_app
    from mindpilot.server.background import live_server

    tokens, repeats = (16, 1) if quick else (64, 3)
    crowds, crowd_tokens = ((4,), 8) if quick else ((8, 32), 24)
    set_threads(1)  # mindpilot's default (MINDPILOT_THREADS=1)
    autopilot = Autopilot.load()
    with tempfile.TemporaryDirectory() as folder:
        store = open_store(Path(folder) / "store.db", embedder="hashing")
        with Engine.open(autopilot, store=store) as engine:
            app = create_app(engine, open_mode=True)
            with live_server(app) as url:
                single = measure_single(autopilot, url, tokens, repeats)
                crowd = [measure_crowd(url, autopilot.model_name, n, crowd_tokens) for n in crowds]
        store.close()
    return {
        "machine": machine(threads=1),
        "model": MODEL,
        "data": f"one prompt ({PROMPT!r}), {tokens} new tokens, greedy; crowds of "
        f"{', '.join(map(str, crowds))} clients asking for {crowd_tokens} tokens each",
        "baseline": "in-process Engine.stream for the same request, same run",
        "prompt": PROMPT,
        "single": single,
        "concurrent": crowd,
    }


def measure_single(autopilot: Any, url: str, tokens: int, repeats: int) -> dict[str, Any]:
    """Median time to first token and decode tok/s, in-process (baseline) and over HTTP."""
    from mindpilot.engine import Engine

    engine = Engine(autopilot)
    client = _client(url)

    def in_process() -> Iterator[str]:
        return iter(engine.stream(PROMPT, max_new_tokens=tokens))

    def over_http() -> Iterator[str]:
        chunks = client.chat.completions.create(
            model=autopilot.model_name,
            messages=[{"role": "user", "content": PROMPT}],
            max_tokens=tokens,
            stream=True,
        )
        deltas = (c.choices[0].delta.content for c in chunks if c.choices)
        return (d for d in deltas if d)

    for start in (in_process, over_http):  # warm-up: first-call costs are not compared
        _time_stream(start)
    rows: dict[str, Any] = {}
    for name, start in (("in_process", in_process), ("http", over_http)):
        runs = [_time_stream(start) for _ in range(repeats)]
        rows[name] = {
            "ttft_s": statistics.median(r[0] for r in runs),
            "pieces_per_s": statistics.median(r[1] for r in runs),
            "pieces": runs[0][2],
        }
    rows["ratio_ttft_http_vs_in_process"] = rows["http"]["ttft_s"] / rows["in_process"]["ttft_s"]
    rows["ratio_rate_http_vs_in_process"] = (
        rows["http"]["pieces_per_s"] / rows["in_process"]["pieces_per_s"]
    )
    rows["max_tokens"], rows["repeats"] = tokens, repeats
    return rows


def _time_stream(start: Callable[[], Iterator[str]]) -> tuple[float, float, int]:
    """(time to first piece, pieces/s after the first one, pieces). A piece is ~one token."""
    began = time.perf_counter()
    first, count = 0.0, 0
    for _ in start():
        count += 1
        first = first or time.perf_counter()
    ended = time.perf_counter()
    rate = (count - 1) / (ended - first) if count > 1 and ended > first else 0.0
    return first - began, rate, count


def measure_crowd(url: str, model: str, clients: int, tokens: int) -> dict[str, Any]:
    """`clients` requests at once (non-streaming); statuses, latencies, throughput."""
    import openai

    client = _client(url)

    def one(_: int) -> tuple[int, float, int]:
        began = time.perf_counter()
        try:
            answer = client.chat.completions.create(
                model=model, messages=[{"role": "user", "content": PROMPT}], max_tokens=tokens
            )
        except openai.APIStatusError as err:
            return err.status_code, time.perf_counter() - began, 0
        used = answer.usage.completion_tokens if answer.usage else 0
        return 200, time.perf_counter() - began, used

    began = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        results = list(pool.map(one, range(clients)))
    wall = time.perf_counter() - began
    latencies = sorted(r[1] for r in results if r[0] == 200)
    statuses = Counter(str(r[0]) for r in results)
    return {
        "clients": clients,
        "max_tokens": tokens,
        "completed": statuses.pop("200", 0),
        "errors": dict(statuses),
        "p50_s": _percentile(latencies, 50),
        "p95_s": _percentile(latencies, 95),
        "wall_s": wall,
        "tokens_per_s": sum(r[2] for r in results) / wall,
    }


def _percentile(values: list[float], pct: int) -> float:
    if not values:
        return 0.0
    return values[min(len(values) - 1, round(pct / 100 * (len(values) - 1)))]


def _client(url: str) -> Any:
    import openai

    return openai.OpenAI(base_url=f"{url}/v1", api_key="not-needed", max_retries=0, timeout=600)


def report(results: dict[str, Any]) -> str:
    single = results["single"]
    local, http = single["in_process"], single["http"]
    lines = [
        f"Machine: {results['machine']}. "
        f"Model: {results['model']}. Prompt: {results['prompt']!r}, "
        f"{single['max_tokens']} new tokens, greedy, median of {single['repeats']}. "
        "Baseline: in-process `Engine.stream` for the same request, in the same run. "
        "Server and clients run in one process (uvicorn on loopback), sharing the cores.",
        "",
        "| path | time to first token | decode tokens/s |",
        "|---|---|---|",
        f"| in-process Engine.stream (baseline) | {local['ttft_s'] * 1000:.0f} ms "
        f"| {local['pieces_per_s']:.1f} |",
        f"| HTTP, openai client, stream=True | {http['ttft_s'] * 1000:.0f} ms "
        f"| {http['pieces_per_s']:.1f} |",
        f"| ratio HTTP / in-process | {single['ratio_ttft_http_vs_in_process']:.2f} "
        f"| {single['ratio_rate_http_vs_in_process']:.2f} |",
        "",
        "Simultaneous clients (non-streaming, default queue: 1 generating, 16 waiting, the rest "
        "refused with 429 at once):",
        "",
        "| clients | new tokens each | completed | errors | p50 latency | p95 latency "
        "| throughput tokens/s |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in results["concurrent"]:
        errors = ", ".join(f"{n} x {s}" for s, n in sorted(row["errors"].items())) or "none"
        lines.append(
            f"| {row['clients']} | {row['max_tokens']} | {row['completed']} | {errors} "
            f"| {row['p50_s']:.1f} s | {row['p95_s']:.1f} s | {row['tokens_per_s']:.1f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a short run (CI)")
    add_out_option(parser)
    args = parser.parse_args()
    results = run(quick=args.quick)
    text = report(results)
    write_results(args.out or default_out_dir(), NAME, TITLE, results, text)
    print(text)


if __name__ == "__main__":
    main()
