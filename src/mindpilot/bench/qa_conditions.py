"""The QA benchmark's conditions, asked the same questions in the same run, and the scoring of
their answers.

Each condition that uses the Mental Process is a task of its own whose expertise is the
question set's domain and whose `answer` settings (mode, faithfulness alpha, style,
abstention) are the condition: the Engine applies them as it does for any task, so the
benchmark measures the product's own path. Closed-book asks the bare model; "gold passage
pasted" places the question's own passage where self-taking puts knowledge (today's
composition, the upper bound of retrieval).
"""

from __future__ import annotations

import statistics
import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from mindpilot.mental_process.records import AnswerSettings
from mindpilot.metrics import contains, exact_match, token_f1

NS = "default"
RECALL_K = (1, 4, 10)
ABSTAIN_TEXT = AnswerSettings().abstain_text
EXAMPLE_QUESTIONS = 2  # sample answers kept per condition


@dataclass(frozen=True)
class Condition:
    """One way of answering: the settings of the task that answers, or none (closed-book)."""

    name: str  # as reported
    key: str  # suffix of the condition's task name
    answer: AnswerSettings | None = None  # None: closed-book, the bare model
    gold: bool = False  # the question's own passage pasted instead of self-taking


CLOSED = Condition("closed-book (baseline)", "closed")
MEMORY = Condition("Mental Process (today's composition)", "memory", AnswerSettings())
EXTRACTIVE = Condition("+ extractive answer", "extractive", AnswerSettings(mode="extractive"))
SHORT = Condition("+ short style", "short", AnswerSettings(style="short"))
READER = Condition("+ reader adapter", "reader", AnswerSettings(reader=True))
EXTRACTIVE_READER = Condition(
    "+ extractive answer + reader", "extractive-reader",
    AnswerSettings(mode="extractive", reader=True),
)  # fmt: skip
GOLD = Condition("gold passage pasted (upper bound)", "gold", AnswerSettings(), gold=True)


def faithful(alpha: float) -> Condition:
    """The Mental Process with context-aware decoding at strength alpha."""
    return Condition(
        f"+ context-aware decoding α={alpha:g}",
        f"cad-{alpha:g}",
        AnswerSettings(faithfulness=alpha),
    )


def conditions(alphas: Sequence[float]) -> tuple[Condition, ...]:
    """Closed-book, the Mental Process alone and with each method, gold pasted."""
    return (
        CLOSED, MEMORY, *(faithful(a) for a in alphas), EXTRACTIVE, SHORT, READER,
        EXTRACTIVE_READER, GOLD,
    )  # fmt: skip


def with_abstention(base: Condition) -> Condition:
    """`base` that says the task's "I don't know" line when its answer is unsupported."""
    assert base.answer is not None and not base.gold
    return Condition(
        f"{base.name} + abstention", f"{base.key}-abstain", replace(base.answer, abstain=True)
    )


def is_memory(condition: Condition) -> bool:
    """Answers with what self-taking took (not closed-book, not the pasted upper bound)."""
    return condition.answer is not None and not condition.gold


@dataclass(frozen=True)
class Question:
    """A question as asked, with what scores its answer."""

    text: str
    answers: tuple[str, ...]  # any one counts; () for an unanswerable question
    passage_id: str = ""  # the source of its stored passage ("": not stored)
    passage: str = ""  # the passage itself, for the gold condition
    memorised: str | None = None  # conflicts: the real answer the passage no longer says


def task_name(base: str, condition: Condition) -> str:
    return f"{base}.{condition.key}"


def add_tasks(store: Any, base: str, domain: str, conds: Iterable[Condition]) -> None:
    """One task per condition, drawing on `domain` with the condition's answer settings."""
    from mindpilot.mental_process import TaskProfile

    for condition in conds:
        if condition.answer is not None:
            name = task_name(base, condition)
            store.put_task(TaskProfile(name=name, expertise=(domain,), answer=condition.answer))


def store_passages(store: Any, domain: str, passage_ids: dict[str, str]) -> dict[str, str]:
    """Chunk and store each passage (text -> source id) as knowledge; returns record id ->
    source id."""
    from mindpilot.mental_process import Knowledge
    from mindpilot.mental_process.ingest import split_text

    records = [
        Knowledge(namespace=NS, domain=domain, text=chunk.text, source=pid)
        for passage, pid in passage_ids.items()
        for chunk in split_text(passage)
    ]
    return {r.id: r.source for r in store.add_many(records)}


def messages(instruction: str, question: str) -> list[Any]:
    from mindpilot.autopilot import Message

    return [Message("system", instruction), Message("user", question)]


def prepare(engine: Any, task: str, request: list[Any], condition: Condition, passage: str) -> Any:
    """The request as the model will see it under `condition`."""
    from mindpilot.engine import ComposedRequest
    from mindpilot.mental_process.records import Hit, Knowledge
    from mindpilot.self_taking import TakenRecords, compose, task_profile

    if not condition.gold:
        memory = condition.answer is not None
        return engine.prepare(request, task=task, namespace=NS, use_memory=memory)
    # The upper bound: the gold passage placed exactly where self-taking puts knowledge.
    profile = task_profile(engine.store, NS, task)
    gold = Knowledge(namespace=NS, domain="gold", text=passage)
    hit = Hit(record=gold, score=1.0, similarity=1.0)
    taken = TakenRecords(profile=profile, query=passage, knowledge=(hit,))
    composed = compose(taken, request)
    extra = engine.autopilot.count_tokens(composed) - engine.autopilot.count_tokens(request)
    return ComposedRequest(NS, task, tuple(composed), taken, 0.0, extra, tuple(request))


def measure(
    engine: Any,
    base: str,
    conds: Sequence[Condition],
    questions: Sequence[Question],
    *,
    instruction: str,
    chunks: dict[str, str],
    max_new_tokens: int,
) -> dict[str, Any]:
    """Every question under every condition (interleaved, so that load on the machine falls
    on all conditions alike): {"conditions": {name: summary}, "examples": [...]}."""
    rows: dict[str, dict[str, list[float]]] = {c.name: defaultdict(list) for c in conds}
    examples: list[dict[str, str]] = []
    for i, question in enumerate(questions):
        request = messages(instruction, question.text)
        for condition in conds:
            started = time.perf_counter()
            prepared = prepare(
                engine, task_name(base, condition), request, condition, question.passage
            )
            # the task's answer settings apply here, as for `Engine.respond`
            response = engine.stream_answer(prepared, max_new_tokens=max_new_tokens).finish()
            wall_s = time.perf_counter() - started
            answer = response.text.strip().split("\n")[0]
            row = rows[condition.name]
            for key, value in score(answer, response, question).items():
                row[key].append(value)
            in_prompt = condition.gold or any(
                question.passage_id and chunks.get(u.id) == question.passage_id
                for u in response.used
            )
            row["gold_in_prompt"].append(float(in_prompt))
            row["applied"].append(float(applied(response, condition)))
            _add_costs(row, response, wall_s)
            if i < EXAMPLE_QUESTIONS:
                examples.append(
                    {"question": question.text, "condition": condition.name, "answer": answer}
                )
    return {"conditions": {c.name: summary(rows[c.name]) for c in conds}, "examples": examples}


def score(answer: str, response: Any, question: Question) -> dict[str, float]:
    """EM, token F1 and containment against the best reference; the share that said "I don't
    know"; on conflicts, whether the answer follows the passage or the memorised fact."""
    said_no = response.abstained or contains(answer, ABSTAIN_TEXT) == 1.0
    out = {"abstained": float(said_no)}
    if question.answers:
        out["em"] = max(exact_match(answer, a) for a in question.answers)
        out["f1"] = max(token_f1(answer, a) for a in question.answers)
        out["contains"] = max(contains(answer, a) for a in question.answers)
    if question.memorised is not None:
        out["follows"] = contains(answer, question.answers[0])
        out["memorised"] = contains(answer, question.memorised)
    return out


def applied(response: Any, condition: Condition) -> bool:
    """Whether the answer was made the way the condition's settings ask (mode and alpha; the
    style and abstention leave no mark to check)."""
    settings = condition.answer or AnswerSettings()
    return (
        response.answer_mode == settings.mode
        and abs(response.faithfulness - settings.faithfulness) < 1e-9
    )


def _add_costs(row: dict[str, list[float]], response: Any, wall_s: float) -> None:
    generation = response.generation
    row["wall_s"].append(wall_s)
    row["prompt_tokens"].append(generation.usage.prompt_tokens)
    if response.answer_mode != "extractive":  # a scored span is not decoded token by token
        row["completion_tokens"].append(generation.usage.completion_tokens)
        row["decode_s"].append(generation.timings.decode_s)


_MEANS = ("em", "f1", "contains", "follows", "memorised", "abstained", "gold_in_prompt", "applied")


def summary(row: dict[str, list[float]]) -> dict[str, float | None]:
    """Means of the scores; medians of wall time and prompt size; decoding speed over all
    generated answers (tokens / decoding seconds; None when nothing was decoded)."""
    out: dict[str, float | None] = {k: statistics.mean(row[k]) for k in _MEANS if row.get(k)}
    out["median_wall_s"] = statistics.median(row["wall_s"])
    out["median_prompt_tokens"] = statistics.median(row["prompt_tokens"])
    tokens, seconds = sum(row["completion_tokens"]), sum(row["decode_s"])
    out["tokens_per_s"] = tokens / seconds if tokens and seconds else None
    out["ms_per_token"] = 1000 * seconds / tokens if tokens and seconds else None
    return out


def recall(store: Any, domain: str, asked: Sequence[tuple[str, str]]) -> dict[str, float]:
    """recall@k: share of questions with a chunk of their gold passage in the top k."""
    ranks = []
    for question, gold in asked:
        hits = store.search(NS, question, kinds=("knowledge",), domains=[domain], k=max(RECALL_K))
        sources = [h.record.source for h in hits]
        ranks.append(sources.index(gold) + 1 if gold in sources else None)
    return {
        f"at_{k}": statistics.mean(float(r is not None and r <= k) for r in ranks) for k in RECALL_K
    }
