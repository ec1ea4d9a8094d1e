"""`mindpilot serve` (the OpenAI-compatible HTTP API) and `mindpilot keys` (its API keys)."""

from __future__ import annotations

import ipaddress
import json
import os
from pathlib import Path
from typing import Any

import click

from mindpilot.cli.model_cmds import model_options, open_engine
from mindpilot.cli.options import namespace_option, store_option
from mindpilot.errors import ConfigError

SNIPPET = """\
  from openai import OpenAI
  client = OpenAI(base_url="{url}/v1", api_key="{key}")
  answer = client.chat.completions.create(
      model="{model}", messages=[{{"role": "user", "content": "Hello!"}}])
  print(answer.choices[0].message.content, answer.model_extra["mindpilot"]["used"])"""


def is_loopback(host: str) -> bool:
    """True for addresses only this machine can reach (127.0.0.0/8, ::1, localhost)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name: it may resolve to anything
        return False


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True)
@click.option(
    "--open",
    "open_mode",
    is_flag=True,
    help="No API keys: every caller uses --namespace (loopback addresses only).",
)
@namespace_option("The namespace of open mode (with keys, each key has its own).")
@store_option
@click.option(
    "--queue",
    "queue_size",
    type=click.IntRange(min=0),
    default=16,
    show_default=True,
    help="Requests that may wait while one generates; more get 429.",
)
@click.option(
    "--max-wait",
    type=click.FloatRange(min=1),
    default=120.0,
    show_default=True,
    help="Refuse (429) a generation expected to take longer than this, waiting included "
    "(seconds; a client's own timeout header lowers it).",
)
@click.option(
    "--synchronous",
    type=click.Choice(["normal", "full"]),
    default="full",
    show_default=True,
    envvar="MINDPILOT_SYNCHRONOUS",
    help="Store durability: full also survives power loss (+0.5 ms a write; docs/operations.md).",
)
@click.option(
    "--max-body",
    type=click.IntRange(min=1024),
    default=1024 * 1024,
    show_default=True,
    help="Largest request body in bytes; larger ones get 413.",
)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Server processes sharing the port, each with its own copy of the model; more than "
    "one wants a store several processes share well: --store postgresql://... (docs/postgres.md).",
)
@click.option(
    "--monitor-every-changes",
    metavar="N",
    type=click.IntRange(min=1),
    default=None,
    help="Start a monitor run of a namespace after every N changes of its memory (default off).",
)
@click.option(
    "--monitor-every",
    "monitor_every_minutes",
    metavar="MINUTES",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="Start a monitor run of each namespace every MINUTES minutes (default off).",
)
@click.option(
    "--monitor-task",
    metavar="TASK",
    default=None,
    help="Those runs also probe this task, in the namespaces that have it.",
)
@click.option(
    "--monitor-quick", is_flag=True, help="Those runs use 10 probe pairs per set (~1 min)."
)
@model_options
def serve(
    host: str,
    port: int,
    open_mode: bool,
    namespace: str,
    store_path: Path | str | None,
    queue_size: int,
    max_wait: float,
    synchronous: str,
    max_body: int,
    workers: int,
    monitor_every_changes: int | None,
    monitor_every_minutes: float | None,
    monitor_task: str | None,
    monitor_quick: bool,
    **load: Any,
) -> None:
    """Serve the OpenAI-compatible API (POST /v1/chat/completions, GET /v1/models), the
    Mental Process REST API and a web page for people at / (chat, memory, tasks, log,
    monitor). A task's name is a `model`; callers send `Authorization: Bearer <key>` (see
    `mindpilot keys create`), or nothing with --open. With --monitor-every-changes or
    --monitor-every, the server also starts bias monitor runs by itself, in the background, one
    at a time (docs/monitor.md)."""
    import uvicorn

    from mindpilot.mental_process.records import check_namespace
    from mindpilot.server.keys import KeyStore
    from mindpilot.server.limits import HEADER_BUFFER

    if open_mode and not is_loopback(host):
        raise ConfigError(
            f"--open serves without API keys, so it only binds loopback addresses, not {host!r}",
            hint="drop --open and create keys (`mindpilot keys create --namespace NAME`), "
            "or bind 127.0.0.1",
        )
    check_namespace(namespace)
    os.environ["MINDPILOT_SYNCHRONOUS"] = synchronous  # read where the store opens
    keys = None if open_mode else KeyStore.default()
    app_settings = {"open_mode": open_mode, "open_namespace": namespace, "queue_size": queue_size,
                    "max_wait_s": max_wait, "max_body_bytes": max_body}  # fmt: skip
    schedule = _schedule(monitor_every_changes, monitor_every_minutes, monitor_task,
                         monitor_quick, workers)  # fmt: skip
    if workers > 1:
        from mindpilot.cli import serve_workers

        store = None if store_path is None else str(store_path)
        serve_workers.check_store(store)
        _announce(host, port, load.get("model") or "the bundled model", keys)
        serve_workers.run(workers, host, port, load=load, store=store, app=app_settings)
        return
    # The model loads now, not at the first request: a wrong --model fails before serving.
    with open_engine(load, store=store_path) as engine:
        app = build_app(engine, keys, {**app_settings, "monitor": schedule})
        _announce(host, port, engine.model_name, keys)
        uvicorn.run(app, host=host, port=port, log_level="warning",
                    h11_max_incomplete_event_size=HEADER_BUFFER)  # fmt: skip


def _schedule(
    every_changes: int | None, every_minutes: float | None, task: str | None, quick: bool,
    workers: int,
) -> Any:  # fmt: skip
    """The server's monitor schedule (None: off); refused with several workers, each of which
    would run it."""
    from mindpilot.server.monitor_jobs import MonitorSchedule

    schedule = MonitorSchedule(every_changes, every_minutes, task, quick)
    if not schedule.on:
        if task is not None or quick:
            raise ConfigError(
                "--monitor-task and --monitor-quick shape the scheduled monitor runs, "
                "but none is scheduled",
                hint="add --monitor-every-changes N or --monitor-every MINUTES",
            )
        return None
    if workers > 1:
        raise ConfigError(
            "the scheduled monitor runs live in one server process, and every worker would "
            "run them",
            hint="serve with --workers 1, or run `mindpilot monitor run` from a scheduler "
            "(cron, CI) instead",
        )
    return schedule


def build_app(engine: Any, keys: Any, settings: dict[str, Any]) -> Any:
    """The server's app over an open engine (`settings`: create_app's keywords)."""
    from mindpilot.server import create_app

    # the embedder loads now too (a read-only search loads it): the first resident
    # `memory add` or search is then as quick as the next
    engine.store.search(settings["open_namespace"], "warm-up", k=1)
    return create_app(engine, keys=keys, **settings)


def _announce(host: str, port: int, model: str, keys: Any) -> None:
    shown = f"[{host}]" if ":" in host else host
    url = f"http://{shown}:{port}"
    click.echo(f"mindpilot serving {model} at {url} (OpenAPI: {url}/docs)")
    click.echo(f"Open {url}/ in a browser: chat, memory, tasks, log and monitor")
    if keys is not None and not keys.has_active():
        click.secho(
            "No API key exists yet, so every request will get 401: create one with\n"
            "  mindpilot keys create --namespace NAME\n"
            "or restart with --open for local use without keys.",
            fg="yellow",
            err=True,
        )
    key = "not-needed" if keys is None else "<your key>"
    click.echo("Use it from Python:\n" + SNIPPET.format(url=url, key=key, model=model))


@click.group()
def keys() -> None:
    """API keys of `mindpilot serve`: each key maps to one namespace. Only hashes are stored."""


@keys.command("create")
@click.option("--namespace", "-n", required=True, help="The namespace the key may use.")
@click.option("--name", "label", default="", help="A label to recognise the key by.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
def keys_create(namespace: str, label: str, as_json: bool) -> None:
    """Create a key and print it (it is shown only this once)."""
    from mindpilot.server.keys import KeyStore

    key, secret = KeyStore.default().create(namespace, label)
    if as_json:
        click.echo(json.dumps({"id": key.id, "namespace": namespace, "key": secret}))
        return
    click.echo(secret)
    click.echo(f"[{key.id} for namespace {namespace!r}; keep the key: it is not stored]", err=True)


@keys.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
def keys_list(as_json: bool) -> None:
    """Key ids, namespaces, labels and states (never the keys)."""
    from datetime import datetime

    from mindpilot.server.keys import KeyStore

    listed = KeyStore.default().list()
    if as_json:
        rows = [{"id": k.id, "namespace": k.namespace, "label": k.label, "active": k.active,
                 "created_at": k.created_at} for k in listed]  # fmt: skip
        click.echo(json.dumps(rows, indent=2))
        return
    if not listed:
        click.echo("no API keys; create one with `mindpilot keys create --namespace NAME`")
    for key in listed:
        created = datetime.fromtimestamp(key.created_at).isoformat(timespec="seconds")
        state = "active" if key.active else "revoked"
        click.echo(f"{key.id}  {key.namespace}  {state}  {created}  {key.label}")


@keys.command("revoke")
@click.argument("key_id")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
def keys_revoke(key_id: str, as_json: bool) -> None:
    """Revoke the key KEY_ID (see `mindpilot keys list`); it stops working at once."""
    from mindpilot.server.keys import KeyStore

    key = KeyStore.default().revoke(key_id)
    if as_json:
        click.echo(json.dumps({"id": key.id, "namespace": key.namespace, "active": key.active}))
        return
    click.echo(f"revoked {key.id} (namespace {key.namespace!r})")


COMMANDS: list[click.Command] = [serve, keys]
