"""Default model speed on this machine: load (first and cached), time to first token, decode
tokens/s with 1 and 2 threads. Baseline, measured in the same run: Hugging Face's own
`model.generate` (greedy, same prompt, same token count) with 1 thread.

    python -m benchmarks.model_speed [--tokens 64] [--repeats 3]

Writes docs/benchmarks/model_speed.json and prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

PROMPT = "Explain in a few sentences why the sky is blue."
OUT = Path(__file__).resolve().parent.parent / "docs" / "benchmarks" / "model_speed.json"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    with tempfile.TemporaryDirectory() as cache:
        os.environ["MINDPILOT_CACHE"] = cache
        results = {"load": measure_loads(), "decode": measure_decode(args.tokens, args.repeats)}
    results["machine"] = (
        f"{platform.machine()}, {os.cpu_count()} cores, {platform.python_version()}"
    )
    results["model"] = "SmolLM2-135M-Instruct (bundled GGUF, float32)"
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(results, indent=2) + "\n")
    text = report(results)
    OUT.with_suffix(".md").write_text("# Default model speed\n\n" + text + "\n")
    print(text)


def measure_loads() -> dict[str, float]:
    from mindpilot.autopilot import Autopilot

    first = Autopilot.load().backend.load_seconds  # type: ignore[attr-defined]
    cached = Autopilot.load().backend.load_seconds  # type: ignore[attr-defined]
    return {"first_s": first, "cached_s": cached}


def measure_decode(tokens: int, repeats: int) -> list[dict[str, float | int | str]]:
    import torch

    from mindpilot.autopilot import Autopilot, GenerationConfig

    autopilot = Autopilot.load()
    backend = autopilot.backend
    # A prompt long enough that decoding never stops early: the model must write `tokens` tokens.
    config = GenerationConfig(max_new_tokens=tokens)
    rows: list[dict[str, float | int | str]] = []
    for threads in (1, 2):
        backend.threads = threads  # type: ignore[attr-defined]
        torch.set_num_threads(threads)
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


def _median(repeats: int, run: object) -> float:
    return statistics.median(run() for _ in range(repeats))  # type: ignore[operator]


def report(results: dict) -> str:  # type: ignore[type-arg]
    load = results["load"]
    lines = [
        f"Machine: {results['machine']}. Model: {results['model']}.",
        "",
        f"Load: first (GGUF -> float32 conversion) {load['first_s']:.1f} s, cached "
        f"{load['cached_s']:.1f} s ({load['first_s'] / load['cached_s']:.0f}x faster).",
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


if __name__ == "__main__":
    main()
