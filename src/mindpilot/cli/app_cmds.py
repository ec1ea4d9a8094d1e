"""`mindpilot demo | classify`: the proposal's applications from the command line."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import click

from mindpilot.cli.model_cmds import echo_sources, echo_stats, model_options, open_engine
from mindpilot.cli.options import namespace_option, store_option


@click.command()
@click.argument("text")
@model_options
@click.option(
    "--task",
    default="sentiment",
    show_default=True,
    help="Task whose labelled experiences serve as examples.",
)
@click.option(
    "--labels", default="positive,negative", show_default=True, help="Comma-separated labels."
)
@click.option(
    "--examples",
    type=click.IntRange(min=0),
    default=None,
    help="How many similar examples to show the model (default: the task's experience_top_k).",
)
@namespace_option()
@store_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
def classify(
    text: str,
    task: str,
    labels: str,
    examples: int | None,
    namespace: str,
    store_path: Path | None,
    as_json: bool,
    **load: Any,
) -> None:
    """Classify TEXT (sentiment by default): labels scored by the model's likelihood.

    Labelled examples are experiences of the task; similar ones are shown to the model:

    mindpilot memory add --kind experience --task sentiment "A dull film." --response negative
    """
    from mindpilot.applications import classify as run

    label_list = tuple(label.strip() for label in labels.split(","))
    with open_engine(load, store=store_path) as engine:
        result = run(
            engine,
            text,
            task=task,
            namespace=namespace,
            labels=label_list,
            examples=examples,
        )
    if as_json:
        import json

        payload = {
            "label": result.label,
            "probabilities": dict(result.probabilities),
            "examples": [u.id for u in result.used],
            "adapter": vars(result.adapter) if result.adapter else None,
        }
        click.echo(json.dumps(payload, indent=2))
        return
    click.echo(result.label)
    for label, probability in result.probabilities:
        click.echo(f"  {label}: {probability:.3f}", err=True)
    click.echo(f"  ({len(result.used)} examples from the Mental Process)", err=True)
    if result.adapter is not None:
        a = result.adapter
        click.echo(f"  (through the task's adapter {a.id}, v{a.version})", err=True)


DEMO_NAMESPACE = "demo"
DEMO_FACT = (
    "The Zentrix Aurora kettle has a 7-year warranty. Refunds are possible within 45 days "
    "of purchase with the receipt."
)


@click.command()
@model_options
def demo(**load: Any) -> None:
    """A short scripted showcase on the bundled default model, offline: the frozen Autopilot,
    the Mental Process and self-taking, with provenance. Uses (and resets) namespace "demo"."""
    from mindpilot.mental_process import MentalProcess, TaskProfile

    say = _Narrator()
    say.step("1. The Autopilot System: a frozen pretrained model")
    started = time.perf_counter()
    engine = open_engine(load)
    autopilot = engine.autopilot
    seconds = time.perf_counter() - started
    say.line(f"Loaded {autopilot.model_name} ({autopilot.backend.name}) in {seconds:.1f} s.")
    _echo_frozen(autopilot.backend)

    say.step("2. The Mental Process: a task, its tone and a fact the model cannot know")
    mp = MentalProcess(namespace=DEMO_NAMESPACE, store=engine.store, actor="demo")
    if DEMO_NAMESPACE in mp.store.namespaces():
        mp.delete_scope()  # only this namespace: the demo never touches your other memories
    mp.put_task(
        TaskProfile(
            name="support",
            namespace=DEMO_NAMESPACE,
            description="answer customers of Zentrix",
            personality="a friendly support agent for Zentrix, a maker of smart kettles",
            expertise=("zentrix",),
        )
    )
    fact = mp.update_domain_knowledge("zentrix", DEMO_FACT)
    mp.update_domain_knowledge("zentrix", "Support is open Monday to Friday, 8am to 6pm.")
    mp.update_domain_knowledge("cooking", "Pasta is cooked in plenty of salted boiling water.")
    mp.update_emotional_states("support", "Empathy")
    say.line("task 'support' (expertise: zentrix), emotional state: Empathy")
    say.line(f"knowledge {fact.id}: {DEMO_FACT}")

    question = "How long is the warranty on the Zentrix Aurora kettle?"
    say.step("3. Self-taking: the same question with and without the Mental Process")
    response = _ask(say, engine, question, use_memory=True)
    echo_sources(response, mp.store, err=False)
    say.line(
        f"retrieval {response.retrieval_s * 1000:.0f} ms, +{response.memory_tokens} prompt "
        f"tokens from memory, generation {response.generation.timings.total_s:.1f} s; "
        f"{response.decode_searches} more searches mid-answer where the model was unsure "
        f"({response.decode_retrieval_s * 1000:.0f} ms)"
    )
    _ask(say, engine, question, use_memory=False)

    say.step("4. Selective: a question that needs nothing from the Mental Process")
    response = _ask(say, engine, "What is the capital of France?", use_memory=True)
    knowledge = [u for u in response.used if u.kind == "knowledge"]
    say.line(f"knowledge records taken: {len(knowledge)} (only the task's tone applies)")

    _faithful_step(say, engine, mp)
    engine.close()


def _faithful_step(say: _Narrator, engine: Any, mp: Any) -> None:
    """The task answers with a span of its record, cited by character offsets, read by the
    built-in reader adapter when the model is the one it was trained on. (Asked "how long",
    the reader and the bare model alike pick the record's other duration, "45 days": a known
    miss of the 135M model, in docs/adapters.md.)"""
    from dataclasses import replace

    from mindpilot.adapters.builtin import reader_manifest
    from mindpilot.autopilot.span_scoring import CandidateScorer

    say.step("5. Faithful answers: a span of the stored record, cited exactly")
    if not isinstance(engine.autopilot.backend, CandidateScorer):
        say.line("(skipped: extractive answers need the local backend's logits)")
        return
    reader = engine.autopilot.model_name == reader_manifest().base_model
    task = mp.get_task("support")
    answer = replace(task.answer, mode="extractive", reader=reader)
    mp.put_task(replace(task, answer=answer))
    say.line(
        "task 'support': answer mode extractive"
        + (", read by the built-in reader adapter" if reader else "")
    )
    question = "What warranty does the Zentrix Aurora kettle have?"
    response = _ask(say, engine, question, use_memory=True)
    echo_sources(response, mp.store, err=False)


def _ask(say: _Narrator, engine: Any, question: str, *, use_memory: bool) -> Any:
    label = "with the Mental Process" if use_memory else "without (the bare frozen model)"
    say.question(f"Q ({label}): {question}")
    stream = engine.stream(
        question, task="support", namespace=DEMO_NAMESPACE, use_memory=use_memory, max_new_tokens=60
    )
    click.echo("A: ", nl=False)
    for piece in stream:
        click.echo(piece, nl=False)
    click.echo()
    response = stream.finish()
    echo_stats(response.generation, err=False)
    return response


class _Narrator:
    def step(self, text: str) -> None:
        click.secho(f"\n{text}", bold=True)

    def line(self, text: str) -> None:
        click.echo(text)

    def question(self, text: str) -> None:
        click.secho(text, fg="cyan")


def _echo_frozen(backend: Any) -> None:
    model = getattr(backend, "model", None)
    if model is None:
        return
    params = list(model.parameters())
    frozen = sum(p.numel() for p in params if not p.requires_grad)
    click.echo(
        f"Frozen: {frozen / 1e6:.1f}M of {sum(p.numel() for p in params) / 1e6:.1f}M parameters "
        f"have requires_grad=False; eval mode: {not model.training}."
    )


COMMANDS: list[click.Command] = [demo, classify]
