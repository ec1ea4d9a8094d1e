"""The costs half of `adapter_curve`: what training, switching and serving an adapter cost.

- Training: wall time of the training loop and peak RSS, from each adapter's manifest
  (`adapter_curve` trains each in a process of its own, so the peak is that process's).
- Switch: per request, `Engine.apply_adapter` plus the backend applying the adapter for the
  forward passes, timed apart from them: the same adapter as the previous request, another
  adapter every request, and a bare-model request while adapters are loaded.
- Decoding: tokens/s greedy on one prompt, the bare base vs each adapter, on the same backend.
"""

from __future__ import annotations

import statistics
import time
from typing import Any

from mindpilot.bench.common import percentiles

GOALS = {
    "train_256_s": 600.0,
    "train_256_rss_mb": 3072.0,
    "switch_ms": 5.0,
    "decode_ratio": 0.9,
}
SWITCHES, QUICK_SWITCHES = 200, 20  # timed requests per case (a bare one takes ~0.3 s)
DECODE_TOKENS, QUICK_DECODE_TOKENS = 64, 16
DECODE_REPEATS, QUICK_DECODE_REPEATS = 3, 1


def measure(
    engine: Any,
    trained: dict[int, dict[str, Any]],
    adapters: tuple[tuple[str, str], ...],
    quick: bool,
) -> dict[str, Any]:
    """`trained`: n -> that adapter's training summary; `adapters`: two loaded adapters, as
    (namespace, id), to switch between and decode with (a sentiment and a QA one)."""
    keys = ("train_examples", "steps", "epochs", "wall_s", "peak_rss_mb", "stopped_early")
    training = [{"n": n, **{k: row[k] for k in keys}, "passes": _passes(row)}
                for n, row in trained.items()]  # fmt: skip
    return {
        "training": training,
        "switch_ms": _switch_ms(engine, adapters, QUICK_SWITCHES if quick else SWITCHES),
        "decode": _decode(engine, adapters, quick),
    }


def _switch_ms(
    engine: Any, adapters: tuple[tuple[str, str], ...], repeats: int
) -> dict[str, dict[str, float]]:
    """Per request: `Engine.apply_adapter` (the manifest lookup; loaded once already) plus the
    backend applying the adapter for the forward passes (`_applied`, what generation and
    scoring enter under their lock). Timed directly: a forward pass costs far more and varies
    by more than the switch on a shared machine."""
    backend = engine.autopilot.backend
    a, b, bare = adapters[0], adapters[1], (None, None)

    def request(namespace: str | None, adapter: str | None) -> float:
        started = time.perf_counter()
        use = engine.apply_adapter(namespace, adapter) if namespace else None
        with backend._applied(use.id if use else None):
            pass
        return (time.perf_counter() - started) * 1000

    def timed(sequence: list[tuple[Any, Any]]) -> dict[str, float]:
        request(*a)  # every sequence starts from adapter a applied
        return percentiles([request(*x) for x in sequence])

    return {
        "same_adapter": timed([a] * repeats),  # the task of the previous request
        "switch_adapter": timed([b, a] * (repeats // 2)),  # every request another adapter
        "bare_request": timed([bare] * repeats),  # no adapter, with adapters loaded
    }


def _decode(engine: Any, adapters: tuple[tuple[str, str], ...], quick: bool) -> dict[str, Any]:
    """Decoding tokens/s on one prompt, greedy: bare base vs each adapter (interleaved
    repeats, median), on the same backend with the adapters loaded."""
    from mindpilot.bench.model_speed import PROMPT
    from mindpilot.types import GenerationConfig, Message

    backend = engine.autopilot.backend
    tokens = QUICK_DECODE_TOKENS if quick else DECODE_TOKENS
    names = {
        "bare base (baseline)": None,
        "sentiment adapter": adapters[0][1],
        "passage-QA adapter": adapters[1][1],
    }
    rates: dict[str, list[float]] = {name: [] for name in names}
    produced: dict[str, int] = {}
    for _ in range(QUICK_DECODE_REPEATS if quick else DECODE_REPEATS):
        for name, adapter in names.items():
            config = GenerationConfig(max_new_tokens=tokens, adapter=adapter)
            generation = backend.generate([Message("user", PROMPT)], config)
            rates[name].append(generation.tokens_per_second)
            produced[name] = generation.usage.completion_tokens
    bare = statistics.median(rates["bare base (baseline)"])
    return {
        "prompt": PROMPT,
        "max_new_tokens": tokens,
        "rows": {
            name: {
                "tokens_per_s": statistics.median(r),
                "ratio": statistics.median(r) / bare,
                "completion_tokens": produced[name],
            }
            for name, r in rates.items()
        },
    }


def _passes(row: dict[str, Any]) -> float:
    """Passes over the training examples made: steps x batch / examples."""
    return float(row["steps"] * row["batch_size"] / max(1, row["train_examples"]))


def report_lines(costs: dict[str, Any]) -> list[str]:
    """The costs section of the adapter_curve report."""
    lines = [
        "## Costs",
        "",
        "Training (`adapt()` in a process of its own: wall time of the training loop, peak RSS "
        "of the process, model and store included):",
        "",
        "| n | trained on | epochs asked | passes made | steps | wall s | peak RSS MB | goal |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in costs["training"]:
        goal = "-"
        # the step floor makes small sets take more passes than asked: what counts is made
        passes = row.get("passes", row["epochs"])
        if row["n"] == 256:
            ok = row["wall_s"] <= GOALS["train_256_s"] and (
                row["peak_rss_mb"] <= GOALS["train_256_rss_mb"]
            )
            goal = f"≤ 600 s and ≤ 3 GB at 3 epochs ({_met(ok)})"
            if round(passes, 1) < 3:
                goal = f"≤ 600 s and ≤ 3 GB at 3 epochs (not comparable: {passes:.1f} here)"
        lines.append(
            f"| {row['n']} | {row['train_examples']} | {row['epochs']} | {passes:.1f} "
            f"| {row['steps']} "
            f"| {row['wall_s']:.0f} | {row['peak_rss_mb']:.0f} | {goal} |"
        )
    switch = costs["switch_ms"]
    alternating = switch["switch_adapter"]["p50"]
    lines += [
        "",
        "Adapter switch per request (ms; `Engine.apply_adapter` + applying the adapter in the "
        "backend, timed apart from the forward passes): the same adapter as the previous "
        "request, another adapter every request, and a bare-model request while adapters "
        "are loaded:",
        "",
        "| case | p50 | p99 |",
        "|---|---|---|",
        *[
            f"| {case.replace('_', ' ')} | {v['p50']:.3f} | {v['p99']:.3f} |"
            for case, v in switch.items()
        ],
        "",
        f"Goal: switch ≤ {GOALS['switch_ms']:.0f} ms: p50 {alternating:.3f} ms "
        f"({_met(alternating <= GOALS['switch_ms'])}).",
        "",
        f"Decoding ({costs['decode']['max_new_tokens']} new tokens at most, greedy, "
        f"{costs['decode']['prompt']!r}):",
        "",
        "| model | tokens/s | ratio to the bare base | tokens produced |",
        "|---|---|---|---|",
    ]
    rows = costs["decode"]["rows"]
    for name, row in rows.items():
        lines.append(
            f"| {name} | {row['tokens_per_s']:.1f} | {row['ratio']:.2f} "
            f"| {row['completion_tokens']} |"
        )
    worst = min(row["ratio"] for name, row in rows.items() if "adapter" in name)
    lines += [
        "",
        f"Goal: ≥ {GOALS['decode_ratio']}x with an adapter: worst {worst:.2f}x "
        f"({_met(worst >= GOALS['decode_ratio'])}).",
    ]
    return lines


def _met(ok: bool) -> str:
    return "met" if ok else "NOT met"
