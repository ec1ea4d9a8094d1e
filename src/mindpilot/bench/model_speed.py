"""Default model speed on this machine: load (first and cached), time to first token, decode
tokens/s with 1 and 2 threads. Baseline, measured in the same run: Hugging Face's own
`model.generate` (greedy, same prompt, same token count).

    python -m mindpilot.bench.model_speed [--tokens 64] [--repeats 3] [--quick]

The full run converts the bundled GGUF in a fresh temporary cache (a true first load); --quick
loads through the current cache (the first load converts only if nothing is cached yet).
Writes OUT/model_speed.json and .md (`--out`, default $MINDPILOT_HOME/bench), and prints
the Markdown table.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from mindpilot.bench.common import (
    MODEL,
    add_out_option,
    default_out_dir,
    machine,
    set_threads,
    write_results,
)

NAME, TITLE = "model_speed", "Default model speed"
PROMPT = "Explain in a few sentences why the sky is blue."


def run(
    quick: bool = False, tokens: int | None = None, repeats: int | None = None
) -> dict[str, Any]:
    """Loads, then TTFT and decode speed at 1 and 2 threads against HF generate."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    tokens = tokens or (16 if quick else 64)
    repeats = repeats or (1 if quick else 3)
    if quick:
        load = measure_loads()
    else:
        with _fresh_cache():
            load = measure_loads()
    decode = measure_decode(tokens, repeats)
    set_threads(1)  # the other benchmarks run with 1 thread
    return {
        "machine": machine(),
        "model": MODEL,
        "data": f"one prompt ({PROMPT!r}), {tokens} new tokens, median of {repeats}",
        "baseline": "transformers' model.generate, greedy, same prompt and token count",
        "load": load,
        "decode": decode,
    }


@contextmanager
def _fresh_cache() -> Iterator[None]:
    """An empty MINDPILOT_CACHE for the duration, so the first load really converts."""
    before = os.environ.get("MINDPILOT_CACHE")
    with tempfile.TemporaryDirectory() as cache:
        os.environ["MINDPILOT_CACHE"] = cache
        try:
            yield
        finally:
            if before is None:
                os.environ.pop("MINDPILOT_CACHE", None)
            else:
                os.environ["MINDPILOT_CACHE"] = before


def measure_loads() -> dict[str, Any]:
    from mindpilot.autopilot import Autopilot, loading

    converted = not loading.cached_models()
    first = Autopilot.load().backend.load_seconds  # type: ignore[attr-defined]
    cached = Autopilot.load().backend.load_seconds  # type: ignore[attr-defined]
    return {"first_s": first, "cached_s": cached, "first_load_converted": converted}


def measure_decode(tokens: int, repeats: int) -> list[dict[str, float | int | str]]:
    from mindpilot.autopilot import Autopilot, GenerationConfig

    autopilot = Autopilot.load()
    backend = autopilot.backend
    config = GenerationConfig(max_new_tokens=tokens)
    rows: list[dict[str, float | int | str]] = []
    for threads in (1, 2):
        backend.threads = threads  # type: ignore[attr-defined]
        set_threads(threads)
        baseline = _median(repeats, lambda: _hf_generate(backend, tokens))
        ours = [autopilot.generate(PROMPT, config) for _ in range(repeats)]
        tps = statistics.median(g.tokens_per_second for g in ours)
        rows.append(
            {
                "threads": threads,
                "ttft_s": statistics.median(g.timings.first_token_s for g in ours),
                "decode_tokens_per_s": tps,
                "hf_generate_tokens_per_s": baseline,
                "ratio_vs_hf_generate": tps / baseline,
                "completion_tokens": ours[0].usage.completion_tokens,
            }
        )
    backend.threads = 1  # type: ignore[attr-defined]
    return rows


def _hf_generate(backend: object, tokens: int) -> float:
    """Tokens/s of transformers' `generate` decoding (prefill excluded, like ours)."""
    import torch

    from mindpilot.autopilot import Message

    ids = torch.tensor([backend.prompt_ids([Message("user", PROMPT)])])  # type: ignore[attr-defined]
    model = backend.model  # type: ignore[attr-defined]
    with torch.inference_mode():
        started = time.perf_counter()
        model.generate(ids, max_new_tokens=1, do_sample=False)
        prefill = time.perf_counter() - started
        started = time.perf_counter()
        out = model.generate(ids, max_new_tokens=tokens, min_new_tokens=tokens, do_sample=False)
        total = time.perf_counter() - started
    return (out.shape[1] - ids.shape[1] - 1) / max(total - prefill, 1e-9)


def _median(repeats: int, run: Callable[[], float]) -> float:
    return statistics.median(run() for _ in range(repeats))


def report(results: dict[str, Any]) -> str:
    load = results["load"]
    first = "first (GGUF -> float32 conversion)" if load["first_load_converted"] else "first"
    lines = [
        f"Machine: {results['machine']}. Model: {results['model']}. Data: {results['data']}. "
        f"Baseline: {results['baseline']}.",
        "",
        f"Load: {first} {load['first_s']:.1f} s, cached {load['cached_s']:.1f} s "
        f"({load['first_s'] / load['cached_s']:.0f}x faster).",
        "",
        "| threads | time to first token | mindpilot decode tok/s "
        "| HF generate tok/s (baseline) | ratio |",
        "|---|---|---|---|---|",
    ]
    for row in results["decode"]:
        lines.append(
            f"| {row['threads']} | {row['ttft_s'] * 1000:.0f} ms "
            f"| {row['decode_tokens_per_s']:.1f} | {row['hf_generate_tokens_per_s']:.1f} "
            f"| {row['ratio_vs_hf_generate']:.2f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--tokens", type=int, default=None)
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument("--quick", action="store_true")
    add_out_option(parser)
    args = parser.parse_args()
    results = run(args.quick, args.tokens, args.repeats)
    text = report(results)
    write_results(args.out or default_out_dir(), NAME, TITLE, results, text)
    print(text)


if __name__ == "__main__":
    main()
