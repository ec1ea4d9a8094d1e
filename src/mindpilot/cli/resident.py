"""The resident server: `mindpilot generate` and the memory commands that embed (`memory add`,
`memory search`) go through a local `mindpilot serve` when one runs, like Ollama's CLI, instead
of loading the model or the embedder themselves (seconds of imports and loading saved on every
call); otherwise they run in-process as before.

Used only when it answers the same question the in-process path would: the server serves the
same store file (its /health names it by `config.store_id`) and, in open mode, the same
namespace; for generate also the default model on the local backend, and the task (if any) is
one the server lists. Memory commands need open mode (with keys, the key decides the
namespace); generate also takes a server with keys for the default namespace, with
`MINDPILOT_API_KEY`. The `server` setting (`MINDPILOT_SERVER`, config.toml) names it (default
http://127.0.0.1:8000; `off`: never); `generate --local` skips it for one call.

Plain urllib, not httpx or the openai client: their imports alone take 0.4-0.6 s, more than a
resident `memory add` may take in all.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click

from mindpilot import config
from mindpilot.errors import (
    BackendError,
    ConflictError,
    MindpilotError,
    NotFoundError,
    PayloadTooLargeError,
    ValidationError,
)
from mindpilot.types import GenerationConfig, Message

# Nothing listening fails at once (connection refused), whatever this is. A local server answers
# /health in milliseconds when idle, but in seconds on a machine busy with other work (0.3 s sent
# the CLI in-process on a loaded 2-core machine); only a hung server costs the whole wait.
PROBE_S = 3.0


def _server_url() -> str | None:
    url = config.setting("server")[0].rstrip("/")
    return None if url.lower() in ("", "off", "none") else url


def _auth() -> dict[str, str]:
    key = os.environ.get("MINDPILOT_API_KEY")
    return {"Authorization": f"Bearer {key}"} if key else {}


def _open(method: str, url: str, body: Any = None, timeout: float | None = 30) -> Any:
    """The HTTP response (a file-like object); an error status raises urllib's HTTPError."""
    data = None if body is None else json.dumps(body).encode()
    headers = {**_auth(), **({"Content-Type": "application/json"} if data else {})}
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    return urllib.request.urlopen(request, timeout=timeout)


def _probe(store_path: Path | None) -> tuple[str, dict[str, Any]] | None:
    """(URL, /health answer) of the configured server if it serves this store, else None."""
    url = _server_url()
    if url is None:
        return None
    try:
        with _open("GET", f"{url}/health", timeout=PROBE_S) as reply:
            health: dict[str, Any] = json.load(reply)
    except (OSError, ValueError):  # nothing listens, no answer in time, or not our server
        return None
    wanted = config.store_id(store_path or config.store_target())
    return (url, health) if health.get("store") == wanted else None


def server_for(
    load: dict[str, Any], store_path: Path | None, task: str | None, namespace: str
) -> tuple[str, str] | None:
    """(base URL, model to ask for) of a resident server that can answer this generation."""
    if load.get("model") or load.get("backend", "transformers") != "transformers":
        return None
    if load.get("device") or load.get("runtime"):  # asked for a model of its own, not the server's
        return None
    found = _probe(store_path)
    if found is None:
        return None
    url, health = found
    if (health.get("namespace") or "default") != namespace:  # with keys: the key's namespace
        return None
    from mindpilot.autopilot.loading import resolve

    try:
        with _open("GET", f"{url}/v1/models", timeout=5) as reply:
            models = [m["id"] for m in json.load(reply).get("data", [])]
    except (OSError, ValueError):
        return None
    if not models or models[0] != resolve(None).name or (task and task not in models):
        return None
    return url, task or models[0]


def memory_server(namespace: str, store_path: Path | None) -> str | None:
    """The base URL of a resident server in open mode on this store and namespace, or None."""
    found = _probe(store_path)
    return found[0] if found is not None and found[1].get("namespace") == namespace else None


_ERRORS: dict[int, type[MindpilotError]] = {
    404: NotFoundError, 409: ConflictError, 413: PayloadTooLargeError, 422: ValidationError,
}  # fmt: skip


def call(url: str, method: str, path: str, body: Any = None) -> Any:
    """A Mental Process route's JSON answer; its error becomes the error the store would have
    raised in-process (the server's message, and the store's status mapped back)."""
    try:
        with _open(method, f"{url}{path}", body) as reply:
            return json.load(reply)
    except urllib.error.HTTPError as err:
        try:
            message = json.load(err)["error"]["message"]
        except (ValueError, KeyError, TypeError):
            message = f"HTTP {err.code}"
        raise _ERRORS.get(err.code, BackendError)(
            f"{message} (the resident server at {url})"
        ) from None
    except OSError as err:
        raise BackendError(
            f"the resident server at {url} stopped answering: {err}",
            hint="run the command again (it then works without the server)",
        ) from None


def generate(
    url: str, model: str, messages: list[Message], gen: GenerationConfig, *,
    as_json: bool, stats: bool, sources: bool,
) -> None:  # fmt: skip
    """Stream the answer from the server and print it as the in-process path does."""
    request: dict[str, Any] = {
        "model": model,
        "messages": [{"role": m.role, "content": m.content} for m in messages],
        "max_tokens": gen.max_new_tokens, "temperature": gen.temperature, "top_p": gen.top_p,
        "top_k": gen.top_k, "repetition_penalty": gen.repetition_penalty,
        "stream": True, "stream_options": {"include_usage": True},
    }  # fmt: skip
    if gen.stop:
        request["stop"] = list(gen.stop)
    if gen.seed is not None:
        request["seed"] = gen.seed
    pieces: list[str] = []
    provenance: dict[str, Any] = {}
    usage: dict[str, Any] | None = None
    for chunk in _events(url, request):
        usage = chunk.get("usage") or usage
        provenance = chunk.get("mindpilot") or provenance
        for choice in chunk.get("choices", []):
            piece = (choice.get("delta") or {}).get("content")
            if piece:
                pieces.append(piece)
                if not as_json:
                    click.echo(piece, nl=False)
    if as_json:
        result = {"text": "".join(pieces), "server": url, **provenance}
        click.echo(json.dumps(result, ensure_ascii=False, indent=2))
        return
    click.echo()
    if stats and usage is not None:
        click.echo(f"[via the resident server {url}: {usage['prompt_tokens']} prompt + "
                   f"{usage['completion_tokens']} completion tokens]", err=True)  # fmt: skip
    if sources:
        for used in provenance.get("used", []):
            click.echo(f"[{used['kind']} {used['id']} v{used['version']} similarity "
                       f"{used['similarity']:.2f}]", err=True)  # fmt: skip
        if not provenance.get("used"):
            click.echo("[no Mental Process records used]", err=True)


def _events(url: str, request: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The server-sent events of a streamed chat completion, as they arrive."""
    try:
        reply = _open("POST", f"{url}/v1/chat/completions", request, timeout=None)
    except urllib.error.HTTPError as err:
        raise BackendError(f"the resident server at {url} answered {err.code}: "
                           f"{err.read().decode(errors='replace')[:300]}") from None  # fmt: skip
    with reply:
        for raw in reply:  # one line at a time, as the server flushes them
            line = raw.decode().rstrip("\r\n")
            if not line.startswith("data: ") or line == "data: [DONE]":
                continue
            chunk: dict[str, Any] = json.loads(line[6:])
            if "error" in chunk:
                raise BackendError(f"the resident server failed: {chunk['error']['message']}")
            yield chunk
