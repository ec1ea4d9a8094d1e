"""The resident model: `mindpilot generate` answers through a local `mindpilot serve` when one
runs, like Ollama's CLI, instead of loading the model itself (seconds of imports and loading
saved on every call); otherwise it runs in-process as before.

Used only when it answers the same question the in-process path would: the default model on
the local backend, the default store, the server's base model is the default model, and the
task (if any) is one the server lists. The `server` setting (`MINDPILOT_SERVER`, config.toml)
names it (default http://127.0.0.1:8000; `off`: never); `--local` skips it for one call. A
server with keys needs `MINDPILOT_API_KEY`.
"""

from __future__ import annotations

import json
import os
from typing import Any

import click

from mindpilot import config
from mindpilot.errors import BackendError
from mindpilot.types import GenerationConfig, Message

PROBE_S = 0.3  # a local server answers /health in milliseconds; nothing listening fails at once


def server_for(load: dict[str, Any], store_given: bool, task: str | None) -> tuple[str, str] | None:
    """(base URL, model to ask for) of a resident server that can answer this call, or None."""
    url = config.setting("server")[0].rstrip("/")
    if url.lower() in ("", "off", "none") or store_given:
        return None
    if load.get("model") or load.get("backend", "transformers") != "transformers":
        return None
    import httpx

    from mindpilot.autopilot.loading import resolve

    try:
        if httpx.get(f"{url}/health", timeout=PROBE_S).status_code != 200:
            return None
        listed = httpx.get(f"{url}/v1/models", headers=_auth(), timeout=5)
    except httpx.HTTPError:
        return None
    if listed.status_code != 200:
        return None
    models = [m["id"] for m in listed.json().get("data", [])]
    if not models or models[0] != resolve(None).name or (task and task not in models):
        return None
    return url, task or models[0]


def _auth() -> dict[str, str]:
    key = os.environ.get("MINDPILOT_API_KEY")
    return {"Authorization": f"Bearer {key}"} if key else {}


def generate(
    url: str, model: str, messages: list[Message], gen: GenerationConfig, *,
    as_json: bool, stats: bool, sources: bool,
) -> None:  # fmt: skip
    """Stream the answer from the server and print it as the in-process path does (over
    plain httpx: the openai client alone takes 0.6 s to import)."""
    import httpx

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
    with httpx.stream("POST", f"{url}/v1/chat/completions", json=request, headers=_auth(),
                      timeout=None) as reply:  # fmt: skip
        if reply.status_code != 200:
            raise BackendError(f"the resident server at {url} answered {reply.status_code}: "
                               f"{reply.read().decode(errors='replace')[:300]}")  # fmt: skip
        for line in reply.iter_lines():
            if not line.startswith("data: ") or line == "data: [DONE]":
                continue
            chunk = json.loads(line[6:])
            if "error" in chunk:
                raise BackendError(f"the resident server failed: {chunk['error']['message']}")
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
