"""The cost of self-taking: the same requests with and without the Mental Process.

    python -m benchmarks.self_taking_cost [--requests 8] [--tokens 48] [--distractors 2000]

A support task's knowledge holds 12 product facts among `--distractors` unrelated movie-review
sentences (VADER's, from its sdist). Baseline, in the same run: the bare frozen model on the
same questions. Reports retrieval / prompt processing / decoding time and the extra prompt
tokens. Writes docs/benchmarks/self_taking_cost.json and .md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import tempfile
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "docs" / "benchmarks" / "self_taking_cost.json"
FACTS = [
    f"The Zentrix {name} kettle has a {years}-year warranty and boils {litres} litres."
    for name, years, litres in [
        ("Aurora", 7, 1.7), ("Borealis", 3, 1.2), ("Cirrus", 5, 1.5), ("Dune", 2, 0.8),
        ("Ember", 4, 1.0), ("Fjord", 6, 2.0), ("Glacier", 8, 1.8), ("Harbor", 1, 0.5),
        ("Iris", 9, 1.1), ("Juniper", 10, 1.6), ("Kestrel", 11, 1.3), ("Lumen", 12, 0.9),
    ]
]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=8)
    parser.add_argument("--tokens", type=int, default=48)
    parser.add_argument("--distractors", type=int, default=2000)
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    results = run(args.requests, args.tokens, args.distractors)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(results, indent=2) + "\n")
    text = report(results)
    OUT.with_suffix(".md").write_text("# Cost of self-taking\n\n" + text + "\n")
    print(text)


def run(requests: int, tokens: int, distractors: int) -> dict:  # type: ignore[type-arg]
    from mindpilot.autopilot import Autopilot
    from mindpilot.datasets import vader_movie_reviews
    from mindpilot.engine import Engine
    from mindpilot.mental_process import Knowledge, TaskProfile, open_store

    with tempfile.TemporaryDirectory() as folder:
        store = open_store(Path(folder) / "bench.db", embedder="minilm")
        store.put_task(TaskProfile(name="support", expertise=()))
        reviews = [r.text for r in vader_movie_reviews()[:distractors]]
        store.add_many([Knowledge(domain="zentrix", text=t) for t in FACTS])
        store.add_many([Knowledge(domain="reviews", text=t) for t in reviews])
        engine = Engine(Autopilot.load(), store)
        names = [f.split()[2] for f in FACTS][:requests]
        questions = [f"What warranty does the Zentrix {n} kettle have?" for n in names]
        engine.respond(questions[0], task="support", max_new_tokens=2)  # warm-up
        rows = {}
        for mode, use in (("bare model (baseline)", False), ("with self-taking", True)):
            out = [
                engine.respond(q, task="support", use_memory=use, max_new_tokens=tokens)
                for q in questions
            ]
            rows[mode] = {
                "retrieval_ms": statistics.median(r.retrieval_s * 1000 for r in out),
                "prompt_tokens": statistics.median(r.generation.usage.prompt_tokens for r in out),
                "extra_prompt_tokens": statistics.median(r.memory_tokens for r in out),
                "prompt_ms": statistics.median(r.generation.timings.prompt_s * 1000 for r in out),
                "decode_ms": statistics.median(r.generation.timings.decode_s * 1000 for r in out),
                "completion_tokens": statistics.median(
                    r.generation.usage.completion_tokens for r in out
                ),
                "answers_with_the_fact": sum(
                    re.search(rf"\b{_years(FACTS[i])}\b", r.text) is not None
                    for i, r in enumerate(out)
                ),
            }
        store.close()
    return {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, torch threads 1",
        "model": "SmolLM2-135M-Instruct; embedder all-MiniLM-L6-v2",
        "data": f"12 product facts among {distractors} VADER movie-review sentences",
        "requests": requests,
        "rows": rows,
    }


def _years(fact: str) -> str:
    return fact.split("-year")[0].split()[-1]


def report(results: dict) -> str:  # type: ignore[type-arg]
    lines = [
        f"Machine: {results['machine']}. Model: {results['model']}. Data: {results['data']}. "
        f"Medians over {results['requests']} questions.",
        "",
        "| | retrieval ms | prompt tokens (+memory) | prompt processing ms | decoding ms "
        "| answers with the fact |",
        "|---|---|---|---|---|---|",
    ]
    for mode, row in results["rows"].items():
        lines.append(
            f"| {mode} | {row['retrieval_ms']:.1f} | {row['prompt_tokens']:.0f} "
            f"(+{row['extra_prompt_tokens']:.0f}) | {row['prompt_ms']:.0f} | "
            f"{row['decode_ms']:.0f} | {row['answers_with_the_fact']}/{results['requests']} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
