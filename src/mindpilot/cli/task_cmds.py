"""`mindpilot task ...`: task profiles (persona, expertise, default emotion, retrieval)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from mindpilot.cli.memory_cmds import opened, store_options
from mindpilot.cli.output import emit_json, show_fields, table, when
from mindpilot.errors import ConflictError
from mindpilot.mental_process.records import (
    ANSWER_MODES,
    ANSWER_STYLES,
    RetrievalSettings,
    TaskProfile,
)

F = TypeVar("F", bound=Callable[..., Any])
RETRIEVAL_FIELDS = [f.name for f in dataclasses.fields(RetrievalSettings)]
# the fields' annotations are strings here (from __future__ import annotations in records.py)
RETRIEVAL_TYPES = {
    f.name: {"float": float, "bool": bool}.get(str(f.type), int)
    for f in dataclasses.fields(RetrievalSettings)
}
# answer settings as options: --answer-mode, --faithfulness, --answer-style, --abstain/...
ANSWER_OPTIONS = {
    "mode": ("--answer-mode", click.Choice(ANSWER_MODES), "generate, or extractive: a cited span"),
    "faithfulness": ("--faithfulness", float, "context-aware decoding alpha (0 = off)"),
    "style": ("--answer-style", click.Choice(ANSWER_STYLES), "free, or short: a few words"),
    "abstain": ("--abstain/--no-abstain", bool, "say abstain-text instead of inventing"),
    "abstain_text": ("--abstain-text", str, "the line said when abstaining"),
    "min_support": ("--min-support", float, "supported share of sentences below which to abstain"),
    "steer_tone": ("--steer-tone/--no-steer-tone", bool, "steer the emotion into the answer"),
    "retry_tone": ("--retry-tone/--no-retry-tone", bool, "decode a toneless opening again"),
    "reader": ("--reader/--no-reader", bool, "read the knowledge with the built-in reader"),
}


def profile_options(command: F) -> F:
    """The profile's fields as options; None means "not given" (update keeps the old value)."""
    options = [
        click.option("--description"),
        click.option("--personality", help="Persona text."),
        click.option("--expertise", multiple=True, help="A knowledge domain (repeatable)."),
        click.option("--default-emotion", help="Emotion used when the task has none recorded."),
        click.option("--adapter", help="Id of a saved adapter (`mindpilot adapters activate`)."),
        *(
            click.option(f"--{name.replace('_', '-')}", name, type=RETRIEVAL_TYPES[name])
            for name in RETRIEVAL_FIELDS
        ),
        *(
            click.option(
                flag, f"answer_{name}", type=None if kind is bool else kind, default=None, help=text
            )
            for name, (flag, kind, text) in ANSWER_OPTIONS.items()
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def _apply(profile: TaskProfile, given: dict[str, Any]) -> TaskProfile:
    retrieval = {k: given.pop(k) for k in RETRIEVAL_FIELDS if given.get(k) is not None}
    answer = {k: given.pop(f"answer_{k}") for k in ANSWER_OPTIONS}
    answer = {k: v for k, v in answer.items() if v is not None}
    fields = {k: v for k, v in given.items() if v is not None and v != ()}
    if retrieval:
        fields["retrieval"] = dataclasses.replace(profile.retrieval, **retrieval)
    if answer:
        fields["answer"] = dataclasses.replace(profile.answer, **answer)
    return dataclasses.replace(profile, **fields)


def _show(profile: TaskProfile, as_json: bool) -> None:
    if as_json:
        emit_json(profile.to_dict())
        return
    nested = ("kind", "retrieval", "answer")
    rows = [(k, v) for k, v in profile.to_dict().items() if k not in nested]
    rows += [(f"retrieval.{k}", v) for k, v in dataclasses.asdict(profile.retrieval).items()]
    rows += [(f"answer.{k}", v) for k, v in dataclasses.asdict(profile.answer).items()]
    show_fields(f"task {profile.name}", rows)


@click.group("task")
def task() -> None:
    """Task profiles: who the assistant is for a task and what it may draw on."""


@task.command("create")
@click.argument("name")
@profile_options
@store_options
def create_cmd(
    name: str, namespace: str, store_path: Path | None, as_json: bool, **given: Any
) -> None:
    """Create a task profile."""
    with opened(store_path) as store:
        if name in {t.name for t in store.list_tasks(namespace)}:
            raise ConflictError(
                f"task {name!r} already exists in {namespace!r}", hint="use `mindpilot task update`"
            )
        profile = store.put_task(
            _apply(TaskProfile(name=name, namespace=namespace), given), actor="cli"
        )
    _show(profile, as_json)


@task.command("update")
@click.argument("name")
@profile_options
@store_options
def update_cmd(
    name: str, namespace: str, store_path: Path | None, as_json: bool, **given: Any
) -> None:
    """Change some fields of a task profile (the others keep their values)."""
    with opened(store_path) as store:
        profile = store.put_task(_apply(store.get_task(namespace, name), given), actor="cli")
    _show(profile, as_json)


@task.command("list")
@store_options
def list_cmd(namespace: str, store_path: Path | None, as_json: bool) -> None:
    """List the namespace's task profiles."""
    with opened(store_path) as store:
        profiles = store.list_tasks(namespace)
    if as_json:
        emit_json([p.to_dict() for p in profiles])
        return
    rows = [
        (
            p.name,
            p.description,
            ", ".join(p.expertise),
            p.default_emotion,
            p.version,
            when(p.updated_at),
        )
        for p in profiles
    ]
    table(
        f"{len(rows)} task(s) in {namespace!r}",
        ("name", "description", "expertise", "emotion", "v", "updated"),
        rows,
    )


@task.command("show")
@click.argument("name")
@store_options
def show_cmd(name: str, namespace: str, store_path: Path | None, as_json: bool) -> None:
    """Show one task profile."""
    with opened(store_path) as store:
        profile = store.get_task(namespace, name)
    _show(profile, as_json)


@task.command("delete")
@click.argument("name")
@store_options
def delete_cmd(name: str, namespace: str, store_path: Path | None, as_json: bool) -> None:
    """Delete a task profile (its records stay: `mindpilot memory delete --task NAME`)."""
    with opened(store_path) as store:
        store.delete_task(namespace, name, actor="cli")
    if as_json:
        emit_json({"deleted": name})
    else:
        click.echo(f"deleted task {name!r} (undo: mindpilot memory undo)")


COMMANDS: list[click.Command] = [task]
