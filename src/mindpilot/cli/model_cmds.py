"""`mindpilot demo | generate | models`: the Autopilot from the command line."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any

import click

from mindpilot.errors import ConfigError


def model_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """--model/--backend/--base-url/--api-key/--threads, shared by commands that load a model."""
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
    ]
    for decorate in reversed(decorators):
        command = decorate(command)
    return command


def load_autopilot(
    model: str | None, backend: str, base_url: str | None, api_key: str | None, threads: int | None
) -> Any:
    from mindpilot.autopilot import Autopilot

    if backend == "openai":
        return Autopilot.load(model, backend="openai", base_url=base_url, api_key=api_key)
    if base_url or api_key:
        raise ConfigError("--base-url and --api-key only apply to --backend openai")
    return Autopilot.load(model, backend=backend, threads=threads)


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
@click.option("--stop", multiple=True, help="Stop string (repeatable).")
@click.option("--seed", type=int, default=None, help="Seed for sampling.")
@click.option("--stats", is_flag=True, help="Print token counts and speed to stderr.")
def generate(
    prompt: str | None,
    system: str | None,
    max_tokens: int,
    temperature: float,
    top_p: float,
    stop: tuple[str, ...],
    seed: int | None,
    stats: bool,
    **load: Any,
) -> None:
    """Generate text for PROMPT (or standard input), streamed to the terminal."""
    from mindpilot.autopilot import GenerationConfig, Message

    if prompt is None or prompt == "-":
        prompt = sys.stdin.read()
    config = GenerationConfig(
        max_new_tokens=max_tokens, temperature=temperature, top_p=top_p, stop=stop, seed=seed
    )
    messages = ([Message("system", system)] if system else []) + [Message("user", prompt)]
    autopilot = load_autopilot(**load)
    stream = autopilot.stream(messages, config)
    for piece in stream:
        click.echo(piece, nl=False)
    click.echo()
    if stats:
        _echo_stats(stream.finish())


def _echo_stats(result: Any) -> None:
    click.echo(
        f"[{result.model} via {result.backend}: {result.usage.prompt_tokens} prompt + "
        f"{result.usage.completion_tokens} completion tokens, first text after "
        f"{result.timings.first_token_s:.2f} s, {result.tokens_per_second:.1f} tokens/s, "
        f"finish: {result.finish_reason}]",
        err=True,
    )


@click.command()
def models() -> None:
    """Show the default model, the converted-model cache and the backends."""
    from mindpilot.autopilot import BACKENDS, DEFAULT_MODEL, loading
    from mindpilot.autopilot.model import _ensure_builtin_backends
    from mindpilot.errors import ModelNotFoundError

    _ensure_builtin_backends()
    try:
        source = loading.resolve(None)
        click.echo(f"default model: {DEFAULT_MODEL}  ({source.folder / (source.gguf or '')})")
    except ModelNotFoundError as err:
        click.echo(f"default model: {DEFAULT_MODEL}  (not installed: {err.hint})")
    cached = loading.cached_models()
    click.echo(f"converted models in cache: {len(cached)}")
    for path in cached:
        click.echo(f"  {path}")
    click.echo(f"backends: {', '.join(BACKENDS.names())}")


DEMO_QUESTIONS = (
    "What is the capital of France?",
    "Give me one tip for writing a clear email, in one sentence.",
)


@click.command()
@model_options
def demo(**load: Any) -> None:
    """A short scripted showcase on the bundled default model, offline."""
    click.secho("mindpilot demo: the Autopilot System (a frozen pretrained model)", bold=True)
    started = time.perf_counter()
    autopilot = load_autopilot(**load)
    backend = autopilot.backend
    seconds = time.perf_counter() - started
    click.echo(f"Loaded {autopilot.model_name} ({backend.name} backend) in {seconds:.1f} s.")
    _echo_frozen(backend)
    for question in DEMO_QUESTIONS:
        click.secho(f"\nQ: {question}", fg="cyan")
        click.echo("A: ", nl=False)
        stream = autopilot.stream(question, max_new_tokens=60)
        for piece in stream:
            click.echo(piece, nl=False)
        click.echo()
        _echo_stats(stream.finish())


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


COMMANDS: list[click.Command] = [demo, generate, models]
