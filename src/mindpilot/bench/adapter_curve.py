"""Task adapters (issue 11): sentiment accuracy against the number of training examples, for
zero-shot, in-context examples and a trained adapter; a passage-QA adapter; and the costs.

    python -m mindpilot.bench.adapter_curve [--quick] [--out DIR]

Sentiment data: VADER's rated movie-review sentences (|rating| >= 1; `bench/datasets.py`).
One balanced test sample (400; quick: 40) is classified under every condition; the n training
sentences come from the others, balanced, each n's set a prefix of the next. At each n they
are stored as experiences of the task in a namespace of their own (sentence -> label), then:
- zero-shot (baseline; n-independent, measured once): `classify(..., examples=0)`, no adapter,
- in-context: `classify` with the task's default retrieved examples (the 3 most similar),
- adapter: `adapt()` on those experiences (a stratified share held out for its validation,
  so it trains on fewer than n), then activated whatever its validation verdict (recorded),
  and `classify` goes through it (no examples).
Each adapter trains in a fresh process (`mindpilot adapt`'s own cost: its peak RSS is that
process's, model and store included). QA: `adapter_qa`. Costs: training wall time and peak
RSS per n (the manifests); adapter switch time per request (`Engine.apply_adapter` plus the
backend applying the adapter: the same adapter again, another one every request, a bare
request with adapters loaded); decoding tokens/s with an adapter vs the bare base on the same
backend (greedy, same prompt).
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from mindpilot.adapters import AdapterConfig, AdapterLibrary, Manifest
from mindpilot.adapters.config import BATCHES, EPOCHS, SCHEDULES
from mindpilot.bench import adapter_costs, adapter_qa
from mindpilot.bench.common import EMBEDDER, MODEL, machine, set_threads, simple_main
from mindpilot.errors import MindpilotError

NAME, TITLE = "adapter_curve", "Task adapters: accuracy vs training examples, QA, costs"
SIZES, QUICK_SIZES = (16, 64, 256, 1024), (16,)
TEST_ITEMS, QUICK_TEST_ITEMS = 400, 20
TASK = "sentiment"
ZERO_SHOT, IN_CONTEXT, ADAPTER = "zero-shot", "in-context", "adapter"
GOALS = {64: 0.85, 256: 0.90, 1024: 0.94}  # adapter accuracy at n
_CHILD = "from mindpilot.bench.adapter_curve import train_child; train_child()"


def run(quick: bool = False) -> dict[str, Any]:
    from mindpilot.autopilot import Autopilot
    from mindpilot.engine import Engine
    from mindpilot.mental_process import open_store

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    set_threads(1)
    # quick: one pass, no step floor (the recipe's floor is what makes small sets learn)
    config = AdapterConfig(epochs=1, min_steps=0) if quick else AdapterConfig()
    with tempfile.TemporaryDirectory() as folder:
        path, library = Path(folder) / "bench.db", AdapterLibrary(Path(folder) / "adapters")
        store = open_store(path, embedder="minilm")
        try:
            engine = Engine(Autopilot.load(), store, adapters=library)
            trainer = _trainer(path, library)
            sentiment, sentiment_adapter = _sentiment(engine, quick, config, trainer)
            _echo("passage QA")
            plan = adapter_qa.QUICK_QA if quick else adapter_qa.FULL_QA
            qa, qa_adapter = adapter_qa.measure(engine, plan, config, trainer)
            _echo("costs")
            adapters = ((sentiment_adapter.namespace, sentiment_adapter.id),
                        (qa_adapter.namespace, qa_adapter.id))  # fmt: skip
            trained = {row["n"]: row[ADAPTER] for row in sentiment["curve"]}
            costs = adapter_costs.measure(engine, trained, adapters, quick)
        finally:
            store.close()
    return {
        "machine": machine(1),
        "model": f"{MODEL}; embedder {EMBEDDER}",
        "data": f"sentiment: VADER movie-review sentences (|rating| >= 1), a balanced test "
        f"sample of {sentiment['test_items']}, training sentences from the others; QA: "
        f"{qa['data']}",
        "baseline": "the same model without an adapter, same test items, same run: zero-shot "
        "and in-context examples (sentiment), knowledge only and knowledge + examples (QA)",
        "adapter_config": config.to_dict(),
        "training_in": "a fresh process per adapter (peak RSS: that process's)",
        "goals": {"accuracy_at_n": {str(n): g for n, g in GOALS.items()}, **adapter_costs.GOALS},
        "sentiment": sentiment,
        "qa": qa,
        "costs": costs,
    }


# ---- sentiment: three conditions on one test sample ----------------------------------------
def _sentiment(
    engine: Any, quick: bool, config: AdapterConfig, train: adapter_qa.Train
) -> tuple[dict[str, Any], Manifest]:
    """The curve, and the last (largest n) adapter."""
    from mindpilot.adapters import set_active
    from mindpilot.applications.sentiment import DEFAULT_LABELS
    from mindpilot.bench.datasets import balanced_sample, vader_movie_reviews
    from mindpilot.bench.sentiment_curve import balanced_prefixes
    from mindpilot.mental_process import Experience

    sizes = QUICK_SIZES if quick else SIZES
    items = vader_movie_reviews()
    test = balanced_sample(items, QUICK_TEST_ITEMS if quick else TEST_ITEMS, seed=7)
    held_out = {x.text for x in test}
    pool = balanced_prefixes([x for x in items if x.text not in held_out], max(sizes))
    _echo(f"sentiment: zero-shot on {len(test)}")
    zero = _accuracy(engine, test, "zero-shot", examples=0)
    curve = []
    for n in sizes:
        namespace = f"n{n}"
        engine.store.add_many(
            [
                Experience(namespace=namespace, task=TASK, situation=x.text, response=x.label)
                for x in pool[:n]
            ]
        )
        _echo(f"sentiment n={n}: in-context")
        in_context = _accuracy(engine, test, namespace)
        _echo(f"sentiment n={n}: training an adapter")
        trained = train(namespace, TASK, DEFAULT_LABELS, config)
        set_active(engine.store, namespace, TASK, trained.manifest.id, actor="bench")
        adapted = _accuracy(engine, test, namespace, adapter=trained.manifest.id)
        _echo(
            f"sentiment n={n}: {in_context['accuracy']:.3f} in-context, "
            f"{adapted['accuracy']:.3f} adapter"
        )
        curve.append(
            {
                "n": n,
                IN_CONTEXT: in_context,
                ADAPTER: adapted | adapter_qa.training_summary(trained),
            }
        )
    return {
        "test_items": len(test),
        "labels": list(DEFAULT_LABELS),
        "shown_in_context": _shown(engine, f"n{sizes[0]}"),
        "chance_accuracy": 1 / len(DEFAULT_LABELS),
        ZERO_SHOT: zero,
        "curve": curve,
    }, trained.manifest


def _accuracy(
    engine: Any,
    test: list[Any],
    namespace: str,
    *,
    examples: int | None = None,
    adapter: str | None = None,
) -> dict[str, Any]:
    """Accuracy of `classify` on `test`; with `adapter`, checks every answer went through it."""
    from mindpilot.applications.sentiment import classify

    correct = 0
    for x in test:
        result = classify(engine, x.text, task=TASK, namespace=namespace, examples=examples)
        used = result.adapter.id if result.adapter else None
        if used != adapter:
            raise MindpilotError(f"classify answered with adapter {used}, expected {adapter}")
        correct += result.label == x.label
    accuracy = correct / len(test)
    # normal approximation of the binomial: how far apart two points must be to mean anything
    stderr = math.sqrt(accuracy * (1 - accuracy) / len(test))
    return {"correct": correct, "accuracy": accuracy, "stderr": stderr}


def _shown(engine: Any, namespace: str) -> int:
    from mindpilot.self_taking import task_profile

    return int(task_profile(engine.store, namespace, TASK).retrieval.experience_top_k)


# ---- training in a fresh process -------------------------------------------------------------
def _trainer(store_path: Path, library: AdapterLibrary) -> adapter_qa.Train:
    """Train with `adapt()` in a child process (activation left to the caller)."""

    def train(
        namespace: str, task: str, labels: tuple[str, ...] | None, config: AdapterConfig
    ) -> adapter_qa.TrainedAdapter:
        request = {
            "store": str(store_path),
            "library": str(library.root),
            "namespace": namespace,
            "task": task,
            "labels": list(labels) if labels else None,
            "config": config.to_dict(),
        }
        started = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-c", _CHILD],
            input=json.dumps(request),
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise MindpilotError(
                f"training the {task!r} adapter in {namespace!r} failed:\n{done.stderr[-3000:]}"
            )
        answer = json.loads(done.stdout.strip().splitlines()[-1])
        _echo(f"{namespace}/{task}: {answer['steps']} steps, {time.perf_counter() - started:.0f} s")
        return adapter_qa.TrainedAdapter(library.get(namespace, answer["id"]), answer["steps"])

    return train


def train_child() -> None:
    """The training process: a request (JSON) on stdin; the new adapter's id and the steps
    taken on stdout."""
    from mindpilot.adapters import Progress, adapt
    from mindpilot.autopilot import Autopilot
    from mindpilot.mental_process import open_store

    request = json.loads(sys.stdin.read())
    set_threads(1)
    labels = tuple(request["labels"]) if request["labels"] else None
    steps: list[int] = [0]

    def progress(p: Progress) -> None:
        steps[0] = p.step

    with open_store(request["store"], embedder="minilm") as store:
        adapted = adapt(
            Autopilot.load(), store, request["namespace"], request["task"],
            AdapterConfig(**request["config"]), labels=labels, activate=False,
            library=AdapterLibrary(Path(request["library"])), progress=progress, actor="bench",
        )  # fmt: skip
    print(json.dumps({"id": adapted.manifest.id, "steps": steps[0]}))


def _echo(line: str) -> None:
    print(f"adapter_curve: {line}", file=sys.stderr, flush=True)


# ---- report ----------------------------------------------------------------------------------
def report(results: dict[str, Any]) -> str:
    s = results["sentiment"]
    zero = s[ZERO_SHOT]
    cfg = results["adapter_config"]
    lines = [
        f"Machine: {results['machine']}. Model: {results['model']}. Data: {results['data']}. "
        f"Baseline: {results['baseline']}.",
        "",
        f"Adapter recipe: LoRA rank {cfg['rank']} (alpha {cfg['alpha']}) on "
        f"{', '.join(cfg['target_modules'])}; {_by_kind(cfg)}, lr {cfg['learning_rate']}, "
        f"batch {cfg['batch_size']}, at least {cfg['min_steps']} steps, "
        f"{cfg['validation_share']:.0%} held out for validation{_checks(cfg)}, then a label "
        f"offset fitted on it. Training ran in {results['training_in']}.",
        "",
        f"## Sentiment ({s['test_items']} held-out sentences, balanced; chance "
        f"{s['chance_accuracy']:.2f})",
        "",
        f"Zero-shot (no examples, no adapter; baseline): {zero['accuracy']:.3f} "
        f"({zero['correct']}/{s['test_items']}, ± {zero['stderr']:.3f}).",
        "",
        f"| n stored | in-context ({s['shown_in_context']} shown) | adapter | goal | trained on "
        "| validation before -> after | verdict | training s | peak RSS MB |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in s["curve"]:
        ic, ad = row[IN_CONTEXT], row[ADAPTER]
        goal = GOALS.get(row["n"])
        goal_text = f"≥ {goal:.2f} ({_met(ad['accuracy'] >= goal)})" if goal else "-"
        lines.append(
            f"| {row['n']} | {ic['accuracy']:.3f} ± {ic['stderr']:.3f} "
            f"| {ad['accuracy']:.3f} ± {ad['stderr']:.3f} | {goal_text} "
            f"| {ad['train_examples']}, {_steps(ad)} | {ad['validation_before']:.3f} -> "
            f"{ad['validation_after']:.3f} ({ad['validation_examples']}{_offset(ad)}) "
            f"| {'improved' if ad['improved'] else 'not improved'} | {ad['wall_s']:.0f} "
            f"| {ad['peak_rss_mb']:.0f} |"
        )
    lines += [
        "",
        "The adapter is activated whatever its validation verdict (`adapt` itself would not "
        "activate one that is not better); 'trained on' is what is left after the validation "
        "share; 'kept': the step of the best validated checkpoint, whose weights the adapter "
        "keeps (when it is not the last); after the validation size, the label offset fitted "
        "on it (nats added to that label's log-probability), when there is one.",
        "",
        "## Passage QA: question -> short answer, passage in the prompt",
        "",
        *adapter_qa.report_lines(results["qa"]),
        "",
        *adapter_costs.report_lines(results["costs"]),
    ]
    return "\n".join(lines)


def _by_kind(cfg: dict[str, Any]) -> str:
    """Epochs, learning-rate schedule and batching, as set or as each kind of task gets them."""
    parts = []
    for kind in ("classification", "generation"):
        epochs = cfg.get("epochs") or EPOCHS[kind]
        schedule = cfg.get("schedule") or SCHEDULES[kind]
        batching = cfg.get("batching") or BATCHES[kind]
        parts.append(f"{kind} {epochs} epoch(s) at a {schedule} rate, {batching} batches")
    return ", ".join(parts)


def _checks(cfg: dict[str, Any]) -> str:
    count = cfg.get("checkpoints", 0)
    if not count:
        return " (the adapter keeps its last step)"
    return f", checked {count} times in training (the best weights kept)"


def _offset(adapter: dict[str, Any]) -> str:
    offsets = adapter.get("label_offsets") or {}
    return "".join(f"; {label} {value:+.2f}" for label, value in offsets.items())


def _steps(adapter: dict[str, Any]) -> str:
    kept = adapter.get("kept_step") or adapter["steps"]
    return f"{adapter['steps']} steps" + (f" (kept {kept})" if kept != adapter["steps"] else "")


def _met(ok: bool) -> str:
    return "met" if ok else "NOT met"


if __name__ == "__main__":
    simple_main(sys.modules[__name__])
