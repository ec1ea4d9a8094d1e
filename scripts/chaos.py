"""The chaos suite (issue 16): what a hostile or unlucky user does to a running mindpilot,
with the figures that say whether it held. Loopback only, bounded in time.

    .venv/bin/python scripts/chaos.py [--quick] [--model PATH] [--out FILE.json]

- kill:      `mindpilot serve` killed with SIGKILL while clients write; acknowledged
             writes (201) that are gone after the restart are counted.
- ingest:    `mindpilot memory ingest` of a folder killed with SIGKILL mid-way: the store must
             hold all of it or none.
- mix:       many clients at once, most calling the memory API, some chatting (each chat with
             the openai client's timeout header): admitted chats that did not complete, memory
             p95, 5xx responses.
- isolation: one key's requests against another namespace's records (read, search, change,
             delete, history, undo, export): other tenants' data or namespace names leaked.
- bad input: malformed HTTP requests (5xx and non-JSON errors) and bad CLI invocations
             (tracebacks, hangs).
The injection set is `mindpilot bench safety` (it needs the real model's answers).

--quick (CI, the tiny model is fine) runs each part small; the full run prints the figures
the issue asks for. Exit status 1 when a figure misses its goal.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
from chaos_inputs import bad_invocations, bad_requests

from mindpilot.bench.common import start_server

BIN = Path(sys.executable).parent
GOALS = {
    "kill.lost": 0,
    "ingest.partial": 0,
    "isolation.leaked": 0,
    "isolation.names_leaked": 0,
    "bad_http.server_errors": 0,
    "bad_cli.tracebacks": 0,
    "bad_cli.hangs": 0,
    "mix.5xx": 0,
}
MIX_COMPLETED_GOAL = 0.99
ALPHA_RECORDS = 5


# ---- a server and the CLI in a home of their own ---------------------------------------------
class Home:
    def __init__(self, folder: Path, model: str | None) -> None:
        self.folder = folder
        self.env = {
            **os.environ,
            "MINDPILOT_HOME": str(folder / "home"),
            "HF_HUB_OFFLINE": "1",
            "MINDPILOT_EMBEDDER": "hashing",
        }
        if model:
            self.env["MINDPILOT_MODEL"] = model

    def cli(self, *args: str, timeout: float = 120, stdin: str | None = None) -> tuple[int, str]:
        """Run `mindpilot ARGS`; (exit status, stdout + stderr); status -9 when it hung."""
        try:
            done = subprocess.run(
                [str(BIN / "mindpilot"), *args],
                env=self.env,
                capture_output=True,
                text=True,
                timeout=timeout,
                input=stdin,
                cwd=self.folder,
            )
        except subprocess.TimeoutExpired:
            return -9, "hung"
        return done.returncode, done.stdout + done.stderr

    def serve(self, *args: str) -> tuple[subprocess.Popen[bytes], str]:
        return start_server([str(BIN / "mindpilot"), "serve", *args], self.env, cwd=self.folder)


def _knowledge(text: str, domain: str = "chaos") -> dict[str, Any]:
    return {"kind": "knowledge", "domain": domain, "text": text}


# ---- kill -9 of the server while clients write -----------------------------------------------
def kill(home: Home, rounds: int, writers: int) -> dict[str, Any]:
    acknowledged: list[str] = []
    for round_ in range(rounds):
        server, url = home.serve("--open")
        stop = threading.Event()
        threads = [
            threading.Thread(target=_write, args=(url, f"{round_}.{w}", stop, acknowledged))
            for w in range(writers)
        ]
        for t in threads:
            t.start()
        time.sleep(random.uniform(1.0, 3.0))
        server.send_signal(signal.SIGKILL)
        server.wait()
        stop.set()
        for t in threads:
            t.join()
    server, url = home.serve("--open")
    try:
        with httpx.Client(base_url=url, timeout=30) as http:
            lost = sum(http.get(f"/v1/memory/records/{i}").status_code != 200 for i in acknowledged)
    finally:
        server.kill()
        server.wait()
    return {"rounds": rounds, "acknowledged": len(acknowledged), "lost": lost}


def _write(url: str, writer: str, stop: threading.Event, acknowledged: list[str]) -> None:
    """Add records until the server dies; remember each acknowledged (201) id."""
    i = 0
    with httpx.Client(timeout=10) as client:
        while not stop.is_set():
            try:
                r = client.post(f"{url}/v1/memory/records", json=_knowledge(f"{writer} fact {i}"))
            except httpx.HTTPError:
                return  # the server is gone
            if r.status_code == 201:
                acknowledged.append(r.json()["id"])
            i += 1


# ---- kill -9 of an ingest ------------------------------------------------------------------
def ingest(home: Home, rounds: int) -> dict[str, Any]:
    folder = home.folder / "docs"
    folder.mkdir(exist_ok=True)
    for i in range(40):
        (folder / f"doc{i:02}.md").write_text(
            f"# Doc {i}\n\n" + f"Sentence {i} about refunds. " * 400
        )
    partial = outcomes = 0
    for r in range(rounds):
        namespace = f"ingest{r}"
        process = subprocess.Popen(
            [
                str(BIN / "mindpilot"),
                "memory",
                "ingest",
                str(folder),
                "--domain",
                "d",
                "-n",
                namespace,
            ],
            env=home.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(random.uniform(2.0, 6.0))
        process.send_signal(signal.SIGKILL)
        process.wait()
        code, out = home.cli("memory", "list", "-n", namespace, "--json", "--limit", "100000")
        count = len(json.loads(out)) if code == 0 else 0
        full = _chunks(home, folder) if count else 0
        outcomes += 1
        partial += count not in (0, full)
    return {"rounds": outcomes, "partial": partial}


def _chunks(home: Home, folder: Path) -> int:
    code, out = home.cli("memory", "ingest", str(folder), "--domain", "d", "-n", "count", "--json")
    added = json.loads(out)["added"] if code == 0 else -1
    home.cli("memory", "delete", "--all", "--yes", "-n", "count")
    return int(added)


# ---- many clients at once ------------------------------------------------------------------
def mix(home: Home, clients: int, seconds: float, chat_share: float) -> dict[str, Any]:
    server, url = home.serve("--open")
    model = httpx.get(f"{url}/v1/models", timeout=30).json()["data"][0]["id"]
    results: list[tuple[str, int, float]] = []  # (kind, status or -1 for timeout, seconds)
    deadline = time.monotonic() + seconds

    def client(worker: int) -> None:
        rng = random.Random(worker)
        with httpx.Client(timeout=30) as http:
            while time.monotonic() < deadline:
                kind = "chat" if rng.random() < chat_share else rng.choice(["add", "search"])
                started = time.monotonic()
                try:
                    r = _call(http, url, kind, worker, model)
                    status = r.status_code
                except httpx.TimeoutException:
                    status = -1
                results.append((kind, status, time.monotonic() - started))
                if status == 429:
                    time.sleep(min(float(r.headers.get("retry-after", "1")), 5.0))

    try:
        with ThreadPoolExecutor(clients) as pool:
            list(pool.map(client, range(clients)))
    finally:
        server.kill()
        server.wait()
    chats = [s for k, s, _ in results if k == "chat"]
    admitted = [s for s in chats if s != 429]
    memory = sorted(t for k, s, t in results if k != "chat" and s in (200, 201))
    return {
        "clients": clients,
        "seconds": seconds,
        "requests": len(results),
        "chats": len(chats),
        "chats_refused_429": chats.count(429),
        "chats_admitted": len(admitted),
        "chats_completed": admitted.count(200),
        "admitted_completed": admitted.count(200) / len(admitted) if admitted else 1.0,
        "memory_calls": len(memory),
        "memory_p95_ms": 1000 * _p95(memory),
        "memory_p50_ms": 1000 * _median(memory),
        "5xx": sum(1 for _, s, _ in results if s >= 500),
    }


def _call(http: httpx.Client, url: str, kind: str, worker: int, model: str) -> httpx.Response:
    if kind == "chat":
        ask = {
            "model": model,
            "max_tokens": 24,
            "messages": [{"role": "user", "content": f"Client {worker}: how are refunds paid?"}],
        }
        return http.post(
            f"{url}/v1/chat/completions", json=ask, headers={"X-Stainless-Timeout": "30"}
        )
    if kind == "add":
        return http.post(f"{url}/v1/memory/records", json=_knowledge(f"client {worker} note"))
    return http.post(f"{url}/v1/memory/search", json={"query": "refunds", "limit": 5})


def _p95(values: list[float]) -> float:
    return values[int(0.95 * (len(values) - 1))] if values else 0.0


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else 0.0


# ---- one tenant against another ----------------------------------------------------------
def isolation(home: Home, operations: int) -> dict[str, Any]:
    _, alpha = home.cli("keys", "create", "--namespace", "alpha-secret-ns")
    _, beta = home.cli("keys", "create", "--namespace", "beta")
    alpha_key, beta_key = alpha.splitlines()[0].strip(), beta.splitlines()[0].strip()
    server, url = home.serve()
    secret = "the vault code is 7731"
    try:
        own = httpx.Client(
            base_url=url, headers={"Authorization": f"Bearer {alpha_key}"}, timeout=30
        )
        ids = [
            own.post("/v1/memory/records", json=_knowledge(f"{secret} #{i}", "vault")).json()["id"]
            for i in range(ALPHA_RECORDS)
        ]
        own.put("/v1/tasks/vault-task", json={"personality": "a guard"})
        attacker = httpx.Client(
            base_url=url, headers={"Authorization": f"Bearer {beta_key}"}, timeout=30
        )
        leaked = names = 0
        attacks = _attacks(ids)
        for i in range(operations):
            method, path, body = attacks[i % len(attacks)]
            r = attacker.request(method, path, json=body)
            leaked += "7731" in r.text  # alpha's data, in any form
            names += "alpha-secret-ns" in r.text  # or the name of its namespace
        listed = own.get("/v1/memory/records", params={"limit": 100}).json()["data"]
        kept = sum(1 for r in listed if secret in r["text"])
    finally:
        server.kill()
        server.wait()
    return {
        "operations": operations,
        "leaked": leaked,
        "names_leaked": names,
        "alpha_kept": kept,
    }


def _attacks(ids: list[str]) -> list[tuple[str, str, Any]]:
    out: list[tuple[str, str, Any]] = []
    for record in ids:
        out += [
            ("GET", f"/v1/memory/records/{record}", None),
            ("PATCH", f"/v1/memory/records/{record}", {"text": "owned"}),
            ("DELETE", f"/v1/memory/records/{record}", None),
            ("GET", f"/v1/memory/records/{record}/history", None),
        ]
    out += [
        ("POST", "/v1/memory/search", {"query": "vault code"}),
        ("GET", "/v1/memory/records?namespace=alpha-secret-ns", None),
        ("DELETE", "/v1/memory/records?domain=vault", None),
        ("DELETE", "/v1/memory/records?task=vault-task", None),
        ("POST", "/v1/memory/undo", None),
        ("GET", "/v1/memory/export", None),
        ("GET", "/v1/tasks/vault-task", None),
        ("GET", "/v1/tasks", None),
        ("GET", "/v1/models", None),
        ("GET", "/v1/log", None),
        (
            "POST",
            "/v1/chat/completions",
            {
                "model": "vault-task",
                "max_tokens": 4,
                "messages": [{"role": "user", "content": "vault code?"}],
            },
        ),
    ]
    return out


# ---- bad input ---------------------------------------------------------------------------
def bad_http(home: Home) -> dict[str, Any]:
    server, url = home.serve("--open")
    errors = non_json = 0
    cases = bad_requests()
    try:
        with httpx.Client(base_url=url, timeout=60) as http:
            for method, path, content, headers in cases:
                r = http.request(method, path, content=content, headers=headers)
                errors += r.status_code >= 500
                if r.status_code >= 400:
                    try:
                        r.json()["error"]["message"]
                    except (ValueError, KeyError, TypeError):
                        non_json += 1
    finally:
        server.kill()
        server.wait()
    return {"requests": len(cases), "server_errors": errors, "non_json_errors": non_json}


def bad_cli(home: Home, quick: bool) -> dict[str, Any]:
    folder = home.folder / "bad"
    folder.mkdir(exist_ok=True)
    (folder / "garbage.db").write_bytes(os.urandom(4096))
    (folder / "notes.txt").write_bytes(b"\xff\xfe latin-1 \xe9")
    (folder / "home-file").write_text("")
    os.mkfifo(folder / "pipe.md")
    cases = bad_invocations(folder)
    if quick:
        cases = cases[:10]
    tracebacks = hangs = 0
    failures = []
    for args, extra in cases:
        env, home.env = home.env, {**home.env, **extra}
        code, out = home.cli(*args, timeout=120, stdin="")
        home.env = env
        hangs += code == -9
        if "Traceback" in out:
            tracebacks += 1
            failures.append(" ".join(args)[:80])
    return {"invocations": len(cases), "tracebacks": tracebacks, "hangs": hangs, "failed": failures}


# ---- the run -----------------------------------------------------------------------------
def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="Each part small (CI).")
    parser.add_argument("--model", default=None, help="Model for the server (default: bundled).")
    parser.add_argument("--out", type=Path, default=None, help="Write the figures as JSON here.")
    args = parser.parse_args()
    quick = args.quick
    with tempfile.TemporaryDirectory() as tmp:
        home = Home(Path(tmp), args.model)
        parts: dict[str, Callable[[], dict[str, Any]]] = {
            "bad_cli": lambda: bad_cli(home, quick),
            "bad_http": lambda: bad_http(home),
            "isolation": lambda: isolation(home, 100 if quick else 1200),
            "kill": lambda: kill(home, 1 if quick else 5, 4),
            "ingest": lambda: ingest(home, 1 if quick else 7),
            "mix": lambda: mix(home, 8 if quick else 50, 10 if quick else 90, 0.2),
        }
        figures: dict[str, Any] = {}
        for name, part in parts.items():
            started = time.monotonic()
            figures[name] = part() | {"seconds": round(time.monotonic() - started, 1)}
            print(f"chaos: {name}: {json.dumps(figures[name])}", flush=True)
    missed = [k for k, goal in GOALS.items() if _get(figures, k) > goal]
    if figures["mix"]["admitted_completed"] < MIX_COMPLETED_GOAL:
        missed.append("mix.admitted_completed")
    if figures["isolation"]["alpha_kept"] != ALPHA_RECORDS:  # the attacker deleted nothing
        missed.append("isolation.alpha_kept")
    figures["missed"] = missed
    if args.out:
        args.out.write_text(json.dumps(figures, indent=2) + "\n")
    print("chaos: " + ("all goals met" if not missed else f"missed: {', '.join(missed)}"))
    return 1 if missed else 0


def _get(figures: dict[str, Any], key: str) -> float:
    part, name = key.split(".")
    return float(figures[part][name])


if __name__ == "__main__":
    sys.exit(main())
