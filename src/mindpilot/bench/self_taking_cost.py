"""The cost of self-taking: the same requests with and without the Mental Process.

    python -m mindpilot.bench.self_taking_cost [--requests 8] [--tokens 48] [--distractors 2000]
    python -m mindpilot.bench.self_taking_cost --quick   # 2 requests, 8 tokens, 100 distractors

A support task's knowledge holds 12 product facts among `--distractors` unrelated movie-review
sentences (VADER's, from its sdist). Baseline, in the same run: the bare frozen model on the
same questions. Reports retrieval / prompt processing / decoding time and the extra prompt
tokens; wall time = retrieval + composition + prompt processing + decoding. Writes
OUT/self_taking_cost.json and .md (`--out`, default $MINDPILOT_HOME/bench).
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import tempfile
from pathlib import Path
from typing import Any

from mindpilot.bench.common import (
    EMBEDDER,
    MODEL,
    add_out_option,
    default_out_dir,
    machine,
    set_threads,
    write_results,
)

FACTS = [
    f"The Zentrix {name} kettle has a {years}-year warranty and boils {litres} litres."
    for name, years, litres in [
        ("Aurora", 7, 1.7), ("Borealis", 3, 1.2), ("Cirrus", 5, 1.5), ("Dune", 2, 0.8),
        ("Ember", 4, 1.0), ("Fjord", 6, 2.0), ("Glacier", 8, 1.8), ("Harbor", 1, 0.5),
        ("Iris", 9, 1.1), ("Juniper", 10, 1.6), ("Kestrel", 11, 1.3), ("Lumen", 12, 0.9),
    ]
]  # fmt: skip


NAME, TITLE = "self_taking_cost", "Cost of self-taking"


def run(
    quick: bool = False,
    requests: int | None = None,
    tokens: int | None = None,
    distractors: int | None = None,
) -> dict[str, Any]:
    """The same questions through the Engine with and without the Mental Process."""
    from mindpilot.autopilot import Autopilot
    from mindpilot.bench.datasets import vader_movie_reviews
    from mindpilot.engine import Engine
    from mindpilot.mental_process import Knowledge, RetrievalSettings, TaskProfile, open_store

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    requests = requests or (2 if quick else 8)
    tokens = tokens or (8 if quick else 48)
    distractors = distractors or (100 if quick else 2000)
    set_threads(1)
    with tempfile.TemporaryDirectory() as folder:
        store = open_store(Path(folder) / "bench.db", embedder="minilm")
        reviews = [r.text for r in vader_movie_reviews()[:distractors]]
        store.add_many([Knowledge(domain="zentrix", text=t) for t in FACTS])
        store.add_many([Knowledge(domain="reviews", text=t) for t in reviews])
        engine = Engine(Autopilot.load(), store)
        names = [f.split()[2] for f in FACTS][:requests]
        questions = [f"What warranty does the Zentrix {n} kettle have?" for n in names]
        engine.respond(questions[0], task="support", max_new_tokens=2)  # warm-up
        rows = {}
        modes = (
            ("bare model (baseline)", False, 0),
            ("self-taking before generating only", True, 0),
            ("with self-taking", True, RetrievalSettings().decode_retrievals),
        )
        for mode, use, mid_answer in modes:
            settings = RetrievalSettings(decode_retrievals=mid_answer)
            store.put_task(TaskProfile(name="support", retrieval=settings))
            out = [
                engine.respond(q, task="support", use_memory=use, max_new_tokens=tokens)
                for q in questions
            ]
            rows[mode] = _row(out)
        store.close()
    return {
        "machine": machine(1),
        "model": f"{MODEL}; embedder {EMBEDDER}",
        "data": f"12 product facts among {distractors} VADER movie-review sentences; "
        f"{requests} questions, up to {tokens} new tokens",
        "baseline": "the bare frozen model on the same questions (use_memory=False), same run",
        "requests": requests,
        "rows": rows,
    }


def _row(out: list[Any]) -> dict[str, float | int]:
    """Medians over the responses (ms), and how many answers contain the fact's number."""

    def median_ms(get: Any) -> float:
        return statistics.median(get(r) * 1000 for r in out)

    return {
        "retrieval_ms": median_ms(lambda r: r.retrieval_s),
        "compose_ms": median_ms(lambda r: r.compose_s),
        "prompt_ms": median_ms(lambda r: r.generation.timings.prompt_s),
        "decode_ms": median_ms(lambda r: r.generation.timings.decode_s),
        "wall_ms": median_ms(lambda r: r.retrieval_s + r.compose_s + r.generation.timings.total_s),
        "prompt_tokens": statistics.median(r.generation.usage.prompt_tokens for r in out),
        "extra_prompt_tokens": statistics.median(r.memory_tokens for r in out),
        "completion_tokens": statistics.median(r.generation.usage.completion_tokens for r in out),
        # searches made mid-answer where the model was unsure (inside decoding time)
        "decode_searches": statistics.median(r.decode_searches for r in out),
        "decode_retrieval_ms": median_ms(lambda r: r.decode_retrieval_s),
        "answers_with_the_fact": sum(
            re.search(rf"\b{_years(FACTS[i])}\b", r.text) is not None for i, r in enumerate(out)
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--requests", type=int, default=None)
    parser.add_argument("--tokens", type=int, default=None)
    parser.add_argument("--distractors", type=int, default=None)
    parser.add_argument("--quick", action="store_true")
    add_out_option(parser)
    args = parser.parse_args()
    results = run(args.quick, args.requests, args.tokens, args.distractors)
    text = report(results)
    write_results(args.out or default_out_dir(), NAME, TITLE, results, text)
    print(text)


def _years(fact: str) -> str:
    return fact.split("-year")[0].split()[-1]


def report(results: dict[str, Any]) -> str:
    rows = results["rows"]
    lines = [
        f"Machine: {results['machine']}. Model: {results['model']}. Data: {results['data']}. "
        f"Baseline: {results['baseline']}. Medians over {results['requests']} questions.",
        "",
        "| | retrieval ms | compose ms | prompt tokens (+memory) | prompt processing ms "
        "| decoding ms (searches mid-answer, ms) | wall ms | answers with the fact |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for mode, row in rows.items():
        lines.append(
            f"| {mode} | {row['retrieval_ms']:.1f} | {row['compose_ms']:.2f} "
            f"| {row['prompt_tokens']:.0f} (+{row['extra_prompt_tokens']:.0f}) "
            f"| {row['prompt_ms']:.0f} | {row['decode_ms']:.0f} "
            f"({row.get('decode_searches', 0):.0f}, {row.get('decode_retrieval_ms', 0):.0f}) "
            f"| {row['wall_ms']:.0f} "
            f"| {row['answers_with_the_fact']}/{results['requests']} |"
        )
    bare, mem = rows["bare model (baseline)"], rows["with self-taking"]
    lines += [
        "",
        f"Self-taking overhead per request (medians): {mem['retrieval_ms']:.0f} ms retrieval, "
        f"+{mem['extra_prompt_tokens']:.0f} prompt tokens "
        f"(+{mem['prompt_ms'] - bare['prompt_ms']:.0f} ms prompt processing); wall time "
        f"{mem['wall_ms'] / bare['wall_ms']:.2f}x the bare model's (decoding lengths differ: "
        f"{bare['completion_tokens']:.0f} vs {mem['completion_tokens']:.0f} tokens).",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
