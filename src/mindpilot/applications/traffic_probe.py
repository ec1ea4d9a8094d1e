"""Counterfactual probe on a task's own traffic (issue: continuous bias monitoring): the task
handles each input of its traffic and each variant with who it is about swapped
(`monitor.counterfactual`), as it handles traffic (self-taking, adapter, tone). A
classification task (its experiences are labels) is compared on its label and the
probability of the original's label, a generation task on the answer's sentiment, length and
refusal. The worst pairs are reported with the records each side used, so a record that makes
the difference can be found and undone. The probe's own answers are not traffic: they are not
written to the audit log.

`monitor_task` is the one core the CLI and the HTTP API call for a monitor run: the probes and
the data audit (`monitor.runs.run_monitor`), plus this probe when a task is named.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace

from mindpilot.adapters.data import detect_labels
from mindpilot.applications.sentiment import classify
from mindpilot.engine import Engine
from mindpilot.mental_process.records import Experience
from mindpilot.monitor.audit import AuditLog
from mindpilot.monitor.counterfactual import Outcome, SwapPair, variants
from mindpilot.monitor.runs import MonitorRun, run_monitor
from mindpilot.tone.score import sentiment

QUICK_ITEMS, FULL_ITEMS = 2, 12  # inputs probed per run (each: 1 + variants answers)
MAX_TOKENS = 32  # per generated answer: enough for its tone, length and a refusal
_REFUSALS = ("i don't know", "i can't", "i cannot", "i'm unable", "i am unable", "sorry, but")


def monitor_task(
    engine: Engine,
    namespace: str = "default",
    task: str | None = None,
    *,
    quick: bool = False,
    pairs_per_set: int | None = None,
    progress: Callable[[str], None] | None = None,
    each_batch: Callable[[str], None] | None = None,
) -> MonitorRun:
    """A whole monitor run (not yet stored: `RunLog.save`); the callbacks are `run_monitor`'s,
    and `each_batch` also hears each answer of the traffic probe."""
    started = time.perf_counter()
    run = run_monitor(
        engine, namespace, task, quick=quick, pairs_per_set=pairs_per_set, progress=progress,
        each_batch=each_batch,
    )  # fmt: skip
    if task is None:
        return run
    if progress is not None:
        progress("probing the task's traffic with swapped genders and names")
    items = QUICK_ITEMS if quick else FULL_ITEMS
    pairs = probe_traffic(engine, namespace, task, items=items, each_answer=each_batch)
    return replace(run, counterfactual=tuple(pairs), seconds=time.perf_counter() - started)


def probe_traffic(
    engine: Engine,
    namespace: str,
    task: str,
    *,
    items: int = FULL_ITEMS,
    each_answer: Callable[[str], None] | None = None,
) -> list[SwapPair]:
    """Every swap pair over up to `items` inputs of the task's traffic, worst first;
    `each_answer` hears each answer (original or variant) done."""
    quiet = copy.copy(engine)  # the same model and store; its answers stay out of the log
    quiet.audit = None
    labels = _labels(engine, namespace, task)
    pairs: list[SwapPair] = []
    answered = 0

    def told(outcome: Outcome) -> Outcome:  # each answer is a turn of the model: say so
        nonlocal answered
        answered += 1
        if each_answer is not None:
            each_answer(f"traffic: {answered} answer(s), {len(pairs)} swap pair(s) so far")
        return outcome

    for source, text in _inputs(engine, namespace, task, items):
        before = told(_outcome(quiet, namespace, task, text, labels, None))
        for axis, variant, changes in variants(text):
            after = told(_outcome(quiet, namespace, task, variant, labels, before.answer))
            pairs.append(SwapPair(axis, source, text, variant, changes, before, after))
    return sorted(pairs, key=lambda p: -p.gap)


def _inputs(engine: Engine, namespace: str, task: str, items: int) -> Iterator[tuple[str, str]]:
    """(source id, text) of the task's traffic that some variant can change, experiences
    first, then the audit log's newest user messages; at most `items`."""
    seen: set[str] = set()
    for source, text in _traffic(engine, namespace, task):
        if text not in seen and variants(text):
            seen.add(text)
            yield source, text
            if len(seen) == items:
                return


def _traffic(engine: Engine, namespace: str, task: str) -> Iterator[tuple[str, str]]:
    store = engine.store
    if store is None:
        return
    for record in store.list(namespace, kind="experience", task=task, limit=None):
        if isinstance(record, Experience):
            yield record.id, record.situation
    with AuditLog(store) as audit:  # read even when this engine writes no log
        entries = audit.list(namespace, task=task, limit=200)
    for entry in entries:
        users = [m.content for m in entry.request if m.role == "user"]
        if users:
            yield entry.id, users[-1]


def _labels(engine: Engine, namespace: str, task: str) -> tuple[str, ...]:
    """The task's labels when its experiences are labels (a classification task), else ()."""
    if engine.store is None:
        return ()
    records = engine.store.list(namespace, kind="experience", task=task, limit=None)
    return detect_labels([r.response for r in records if isinstance(r, Experience)])


def _outcome(
    engine: Engine,
    namespace: str,
    task: str,
    text: str,
    labels: Sequence[str],
    original_label: str | None,
) -> Outcome:
    if labels:
        result = classify(engine, text, task=task, namespace=namespace, labels=tuple(labels))
        label = original_label or result.label
        return Outcome(
            result.label, result.probability(label), sentiment(result.label), 1, False,
            tuple(u.id for u in result.used),
        )  # fmt: skip
    response = engine.respond(text, task=task, namespace=namespace, max_new_tokens=MAX_TOKENS)
    answer = response.text
    lowered = answer.lower()
    refused = response.abstained or any(r in lowered for r in _REFUSALS)
    return Outcome(
        answer, None, sentiment(answer), len(answer.split()), refused,
        tuple(u.id for u in response.used),
    )  # fmt: skip
