"""Tone as a control: does the answer carry the task's emotional state, as intensity rises,
without losing the fact it needs from memory?

    python -m mindpilot.bench.tone_control [--quick]

Data: support requests written for this benchmark (`tone_requests.py`, 25 facts x 4 ways of
asking = 100), all 25 facts stored as knowledge, retrieved by self-taking as in production.
Conditions, same run, same requests: no emotion (the baseline), the prompt line only (an
emotion at intensity 0), and the prompt line plus steering at intensity 0.25, 0.5 and 1.0.
Per condition: adherence (share of answers the scorer says carry the tone), the fact rate
(the normalised needed fact appears in the normalised answer) and decode tokens/s. The
scorer's own agreement with people is measured on VADER's rated sentences (sentiment).
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path
from typing import Any

from mindpilot.bench.common import EMBEDDER, MODEL, machine, set_threads, simple_main
from mindpilot.bench.tone_requests import REQUESTS, SupportRequest

NAME, TITLE = "tone_control", "Tone as a control: adherence vs intensity, fact rate kept"
INTENSITIES = (0.25, 0.5, 1.0)
NS, TASK, PLAIN = "bench", "support", "support-plain"
# Requests in a run: the set has 100; one decoded answer costs ~5 s on a busy 2-core machine,
# and a run decodes 5 per request, so the committed run takes every other request (each fact
# asked plainly and upset) to stay near 30 minutes; pass the full set with `requests=`.
FULL_STEP, QUICK_STEP = 2, 25
# New tokens per answer: room for a steered opening sentence (up to 24 tokens, half the
# budget) and the fact after it, as an answer has with the default limit (256).
FULL_TOKENS, QUICK_TOKENS = 48, 24


def run(
    quick: bool = False,
    *,
    requests: tuple[SupportRequest, ...] | None = None,
    tones: tuple[str, ...] = ("empathy",),
) -> dict[str, Any]:
    """The committed run measures empathy (a tone costs ~30 minutes of decoding here); pass
    other measured tones (`mindpilot tone list`) with `tones=`."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    set_threads(1)
    requests = requests or REQUESTS[:: QUICK_STEP if quick else FULL_STEP]
    max_new = QUICK_TOKENS if quick else FULL_TOKENS
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        results = _conditions(Path(folder), requests, tones, max_new)
    return {
        "machine": machine(1),
        "model": f"{MODEL}; embedder {EMBEDDER}",
        "data": f"{len(requests)} support requests written for the benchmark over "
        f"{len({r.fact for r in requests})} stored facts; greedy, {max_new} new tokens at most",
        "baseline": "no emotion, and the emotion as a prompt line only, same requests, same run",
        "scorer": scorer_agreement(quick),
        "tones": results,
        "seconds": time.perf_counter() - started,
    }


def _conditions(
    folder: Path, requests: tuple[SupportRequest, ...], tones: tuple[str, ...], max_new: int
) -> dict[str, Any]:
    from mindpilot.autopilot import Autopilot
    from mindpilot.engine import Engine
    from mindpilot.mental_process import Emotion, Knowledge, TaskProfile, open_store
    from mindpilot.mental_process.records import AnswerSettings

    store = open_store(folder / "tone.db", embedder="minilm")
    steer = AnswerSettings(steer_tone=True)  # the control measured here (off by default)
    for name in (TASK, PLAIN):
        store.put_task(
            TaskProfile(name=name, namespace=NS, personality="a support agent", answer=steer)
        )
    for fact in sorted({r.knowledge for r in requests}):
        store.add(Knowledge(namespace=NS, domain="support", text=fact))
    engine = Engine(Autopilot.load(), store, None)
    engine.steering_library.root = folder / "steering"  # computed in this run, timed apart
    plain = [_answer(engine, PLAIN, r, max_new) for r in requests]
    out: dict[str, Any] = {}
    for tone in tones:
        rows = [_row("no emotion", plain, tone, requests)]
        for intensity in (0.0, *INTENSITIES):
            store.add(Emotion(namespace=NS, task=TASK, state=tone, intensity=intensity))
            answers = [_answer(engine, TASK, r, max_new) for r in requests]
            label = "prompt line only" if intensity == 0 else f"steering at {intensity:g}"
            rows.append(_row(label, answers, tone, requests))
        out[tone] = rows
    store.close()
    return out


def _answer(engine: Any, task: str, request: SupportRequest, max_new: int) -> Any:
    return engine.respond(request.question, task=task, namespace=NS, max_new_tokens=max_new)


def _row(
    label: str, responses: list[Any], tone: str, requests: tuple[SupportRequest, ...]
) -> dict[str, Any]:
    from mindpilot.metrics import normalize as normalise
    from mindpilot.tone import TONES
    from mindpilot.tone.score import score

    measured = TONES[tone]
    carried = [score(r.text).carries(measured) for r in responses]
    facts = [
        normalise(q.fact) in normalise(r.text) for q, r in zip(requests, responses, strict=True)
    ]
    tokens = sum(r.generation.usage.completion_tokens for r in responses)
    decode_s = sum(r.generation.timings.decode_s for r in responses)
    first = responses[0].tone_use
    uses = [r.tone_use for r in responses if r.tone_use is not None]
    openings = sum(bool(u.opening) for u in uses)
    return {
        "condition": label,
        "adherence": sum(carried) / len(carried),
        "fact_rate": sum(facts) / len(facts),
        "tokens_per_s": tokens / decode_s if decode_s else 0.0,
        "mean_tokens": tokens / len(responses),
        "control": first.control if first else "none",
        # the planned strength (an answer whose opening did not end in time has none)
        "strength": max((u.strength for u in uses), default=0.0),
        "openings": openings / len(responses),
        "example": responses[0].text,
    }


def scorer_agreement(quick: bool) -> dict[str, Any]:
    """Sign agreement of the scorer's sentiment with VADER's human ratings (all rated
    sentences with |rating| >= 1; a score within +-0.05 counts as neutral, hence wrong)."""
    from mindpilot.bench.datasets import vader_movie_reviews
    from mindpilot.tone.score import sentiment

    items = vader_movie_reviews()[: 500 if quick else None]
    scores = [sentiment(i.text) for i in items]
    right = [
        (s > 0.05) if i.label == "positive" else (s < -0.05)
        for s, i in zip(scores, items, strict=True)
    ]
    decided = [abs(s) > 0.05 for s in scores]
    agree_decided = sum(r for r, d in zip(right, decided, strict=True) if d) / max(1, sum(decided))
    return {
        "data": f"VADER movie-review sentences, |rating| >= 1 ({len(items)})",
        "accuracy": sum(right) / len(items),
        "decided": sum(decided) / len(items),
        "accuracy_when_decided": agree_decided,
    }


def _share(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"  # "-": not measured by that run


def headline(results: dict[str, Any]) -> str:
    """One line per tone for the report's headline numbers."""
    parts = []
    for tone, rows in results["tones"].items():
        curve = ", ".join(
            f"{r['condition']} {r['adherence']:.0%}/{r['fact_rate']:.0%}" for r in rows
        )
        parts.append(f"{tone} adherence/fact rate: {curve}")
    return f"Tone control ({results['data']}): " + "; ".join(parts) + "."


def report(results: dict[str, Any]) -> str:
    s = results["scorer"]
    lines = [
        f"Machine: {results['machine']}. Model: {results['model']}.",
        f"Data: {results['data']}. Baseline: {results['baseline']}.",
        "",
        f"Scorer check (sentiment vs people, {s['data']}): accuracy {s['accuracy']:.2f} "
        f"(neutral counted wrong); {s['decided']:.0%} decided, of which "
        f"{s['accuracy_when_decided']:.2f} agree.",
    ]
    for tone, rows in results["tones"].items():
        lines += [
            "",
            f"**{tone}**",
            "",
            "| condition | adherence | fact rate | tokens/s | tokens (mean) | strength "
            "| steered openings |",
            "|---|---|---|---|---|---|---|",
        ]
        lines += [
            f"| {r['condition']} | {r['adherence']:.0%} | {r['fact_rate']:.0%} | "
            f"{r['tokens_per_s']:.1f} | {r['mean_tokens']:.1f} | {r['strength']:.2f} | "
            f"{_share(r.get('openings'))} |"
            for r in rows
        ]
        lines += ["", "First answer per condition:", ""]
        lines += [f"- {r['condition']}: {r['example']!r}" for r in rows]
    return "\n".join(lines)


if __name__ == "__main__":
    simple_main(__import__(__name__))
