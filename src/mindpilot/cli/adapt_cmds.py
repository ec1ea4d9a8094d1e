"""`mindpilot adapt TASK` and `mindpilot adapters ...`: per-task LoRA adapters on the frozen base.

Training reads the task's experiences (situation -> response); the adapter is validated on
held-out examples and activated only when it beats the bare base.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from mindpilot.cli.memory_cmds import opened, store_options
from mindpilot.cli.model_cmds import load_options, model_options, open_engine
from mindpilot.cli.options import namespace_option, store_option
from mindpilot.cli.output import emit_json, show_fields, table, when


@click.command()
@click.argument("task")
@model_options
@namespace_option()
@store_option
@click.option("--rank", type=int, help="LoRA rank (default 16).")
@click.option(
    "--epochs",
    type=int,
    help="Passes over the examples (default 3).",
)
@click.option(
    "--max-minutes",
    type=float,
    help="Stop training after this long; the adapter is still validated (default 30).",
)
@click.option("--lr", "learning_rate", type=float, help="Learning rate (default 5e-4).")
@click.option(
    "--schedule",
    type=click.Choice(["constant", "linear"]),
    help="Learning rate: constant, or linear (10% warm-up, then decay to 0) (default linear).",
)
@click.option("--min-steps", type=int, help="Train at least this many steps (default 40).")
@click.option(
    "--checkpoints",
    type=int,
    help="Classification: validate this often while training and keep the best weights "
    "(default 4; 0: keep the last).",
)
@click.option(
    "--batching",
    type=click.Choice(["random", "length"]),
    help="Batches of shuffled examples, or of similar lengths (less padding) (default length).",
)
@click.option("--batch-size", type=int, help="Examples per step (default 16).")
@click.option(
    "--micro-batch",
    type=int,
    help="Examples per forward pass; lower it to save memory (default 8).",
)
@click.option(
    "--max-examples",
    type=int,
    help="Train on at most this many examples, best-rated first (default 4096).",
)
@click.option("--seed", type=int, help="The same seed and data give the same adapter (default 0).")
@click.option(
    "--targets",
    default=None,
    help="Comma-separated module names to adapt (default: every linear layer).",
)
@click.option(
    "--labels",
    default=None,
    help="Comma-separated labels of a classification task (default: detected).",
)
@click.option("--no-activate", is_flag=True, help="Keep the adapter without activating it.")
@click.option("--json", "as_json", is_flag=True, help="Print the manifest as JSON.")
def adapt(
    task: str,
    namespace: str,
    store_path: Path | None,
    labels: str | None,
    no_activate: bool,
    as_json: bool,
    targets: str | None,
    **options: Any,
) -> None:
    """Train a LoRA adapter for TASK from its experiences, on top of the frozen base model.

    The examples are the task's experiences with a response (negative feedback is left out,
    positive feedback weighs more); a held-out share validates the adapter against the bare
    base, and it is activated only when it is better. Ctrl-C leaves nothing behind.

    mindpilot memory add --kind experience --task sentiment "A dull film." --response negative
    """
    from mindpilot.adapters import AdapterConfig
    from mindpilot.adapters import adapt as run
    from mindpilot.adapters.adapt import check_labels

    load = load_options(options)
    if targets is not None:
        options["target_modules"] = tuple(t.strip() for t in targets.split(",") if t.strip())
    config = AdapterConfig(**{name: value for name, value in options.items() if value is not None})
    label_list = check_labels(tuple(labels.split(","))) if labels else None
    with open_engine(load, store=store_path, audit=False) as engine, _Bar(as_json) as bar:
        adapted = run(
            engine.autopilot, engine.store, namespace, task, config, labels=label_list,
            activate=not no_activate, library=engine.adapters, progress=bar.update,
        )  # fmt: skip
    if as_json:
        emit_json({**adapted.manifest.to_dict(), "activated": adapted.activated})
        return
    manifest = adapted.manifest
    click.echo(
        f"adapter {manifest.id} (task {task!r}, v{manifest.version}, {manifest.kind}) trained "
        f"on {manifest.train_examples} examples in {manifest.wall_s:.0f} s"
        + (" (stopped at --max-minutes)" if manifest.stopped_early else "")
        + _kept(manifest)
    )
    click.echo(adapted.verdict)
    click.echo(f"saved in {adapted.folder}")


def _kept(manifest: Any) -> str:
    """Which checkpoint the adapter keeps, when validation chose one before the last."""
    last = manifest.checkpoints[-1][0] if manifest.checkpoints else 0
    if not manifest.kept_step or manifest.kept_step == last:
        return ""
    return f"; kept the weights of step {manifest.kept_step} of {last} (best on validation)"


class _Bar:
    """Step, loss and ETA on stderr while training (nothing with --json)."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet
        self._progress: Any = None
        self._job: Any = None

    def __enter__(self) -> _Bar:
        if not self.quiet:
            from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

            self._progress = Progress(
                TextColumn("training"), BarColumn(), TextColumn("step {task.completed}/"
                "{task.total}"), TextColumn("loss {task.fields[loss]}"), TimeRemainingColumn(),
                transient=True,
            )  # fmt: skip
            self._progress.start()
        return self

    def update(self, progress: Any) -> None:
        if self._progress is None:
            return
        if self._job is None:
            self._job = self._progress.add_task("train", total=progress.steps, loss="-")
        self._progress.update(self._job, completed=progress.step, loss=f"{progress.loss:.3f}")

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()
        if exc[0] is KeyboardInterrupt:
            click.echo("interrupted: nothing was saved or activated", err=True)


@click.group("adapters")
def adapters() -> None:
    """Saved task adapters: list, show, activate, deactivate, delete."""


@adapters.command("list")
@store_options
@click.option("--task", default=None, help="Only this task's adapters.")
def adapters_list(namespace: str, store_path: Path | None, as_json: bool, task: str | None) -> None:
    """The namespace's adapters, with their validation figures; * marks the active ones."""
    from mindpilot.adapters import AdapterLibrary, listing

    with opened(store_path) as store:
        found = listing(store, AdapterLibrary(), namespace, task)
    if as_json:
        emit_json([{**x.manifest.to_dict(), "active": x.active} for x in found])
        return
    rows = []
    for x in found:
        m = x.manifest
        figures = f"{m.metrics.name} {m.metrics.before:.3f} -> {m.metrics.after:.3f}"
        mark = "* " if x.active else "  "
        rows.append((mark + m.id, m.task, f"v{m.version}", m.kind, figures, m.train_examples,
                     when(m.created_at)))  # fmt: skip
    table(f"adapters in {namespace}", ("id", "task", "v", "kind", "validation", "n", "made"), rows)


@adapters.command("show")
@click.argument("adapter_id", metavar="ID_OR_TASK")
@store_options
def adapters_show(adapter_id: str, namespace: str, store_path: Path | None, as_json: bool) -> None:
    """An adapter's manifest (a task name: its newest adapter): base model and weights hash,
    records, settings, metrics."""
    from mindpilot.adapters import AdapterLibrary

    manifest = AdapterLibrary().find(namespace, adapter_id)
    data = manifest.to_dict()
    if as_json:
        emit_json(data)
        return
    data["records"] = f"{len(manifest.records)} experiences"
    show_fields(f"adapter {manifest.id}", list(data.items()))


@adapters.command("activate")
@click.argument("adapter_id", metavar="ID_OR_TASK")
@store_options
def adapters_activate(
    adapter_id: str, namespace: str, store_path: Path | None, as_json: bool
) -> None:
    """Use this adapter (a task name: its newest) for its task's answers, whatever its
    validation said (undo with `mindpilot memory undo`)."""
    from mindpilot.adapters import AdapterLibrary, activate

    library = AdapterLibrary()
    with opened(store_path) as store:
        found = library.find(namespace, adapter_id)
        m = activate(store, library, namespace, found.id, actor="cli")
    text = f"task {m.task!r} now answers with adapter {m.id} (v{m.version})"
    _done(as_json, {"task": m.task, "adapter": m.id}, text)


@adapters.command("deactivate")
@click.argument("task")
@store_options
def adapters_deactivate(task: str, namespace: str, store_path: Path | None, as_json: bool) -> None:
    """Answer TASK with the bare base again (the adapter stays saved)."""
    from mindpilot.adapters import deactivate

    with opened(store_path) as store:
        changed = deactivate(store, namespace, task, actor="cli")
    text = f"task {task!r} answers without an adapter" + ("" if changed else " (it had none)")
    _done(as_json, {"task": task, "adapter": None}, text)


@adapters.command("delete")
@click.argument("adapter_id")
@store_options
def adapters_delete(
    adapter_id: str, namespace: str, store_path: Path | None, as_json: bool
) -> None:
    """Delete a saved adapter (refused while a task uses it)."""
    from mindpilot.adapters import AdapterLibrary, delete

    with opened(store_path) as store:
        delete(store, AdapterLibrary(), namespace, adapter_id)
    _done(as_json, {"deleted": adapter_id}, f"deleted adapter {adapter_id}")


def _done(as_json: bool, data: dict[str, Any], text: str) -> None:
    if as_json:
        emit_json(data)
    else:
        click.echo(text)


COMMANDS: list[click.Command] = [adapt, adapters]
