"""The bad input the chaos suite sends (scripts/chaos.py): HTTP requests and CLI invocations
that a careless or hostile user might make. Each must get a clear error: no 5xx, no error
outside OpenAI's JSON shape, no traceback, no hang."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def bad_requests() -> list[tuple[str, str, bytes, dict[str, str]]]:
    j = {"content-type": "application/json"}
    bodies = [
        b"",
        b"{",
        b"null",
        b"[]",
        b'"x"',
        b"1e999",
        b'{"kind": "knowledge"}',
        b'{"kind": "nope", "text": "x"}',
        b'{"kind": "knowledge", "domain": "", "text": "x"}',
        b'{"kind": "knowledge", "domain": "d", "text": "' + b"x" * 2_000_000 + b'"}',
        b'{"kind": "knowledge", "domain": "d", "text": "\\ud800"}',
        b'{"kind": "knowledge", "domain": "d", "text": "x", "extra": 1}',
        '{"kind": "knowledge", "domain": "d", "text": "\u0000"}'.encode(),
        b"[" * 50_000 + b"]" * 50_000,
        b"\xff\xfe\xfa",
    ]
    chats = [
        b'{"model": "x"}',
        b'{"messages": []}',
        b'{"model": "m", "messages": [{"role": "x"}]}',
        b'{"model": "m", "messages": [{"role": "user", "content": "hi"}], "max_tokens": -1}',
        b'{"model": "m", "messages": [{"role": "user", "content": "hi"}], "temperature": "hot"}',
        b'{"model": "m", "messages": [{"role": "user", "content": "hi"}], "n": 3}',
        b'{"model": "m", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 1e20}',
        b'{"model": "' + b"m" * 10_000 + b'", "messages": [{"role": "user", "content": "hi"}]}',
    ]
    cases = [("POST", "/v1/memory/records", b, j) for b in bodies]
    cases += [("POST", "/v1/chat/completions", b, j) for b in chats]
    cases += [
        ("POST", "/v1/memory/search", b, j)
        for b in (
            b"{}",
            b'{"query": ""}',
            b'{"query": "x", "limit": -5}',
            b'{"query": "x", "limit": 1e30}',
        )
    ]
    paths = [
        "/v1/memory/records/" + "a" * 5000,
        "/v1/memory/records/%00",
        "/v1/memory/records/../../etc/passwd",
        "/v1/memory/records?limit=-1",
        "/v1/memory/records?limit=99999999999999999999",
        "/v1/memory/records?since=yesterday",
        "/v1/tasks/%2F%2F",
        "/v1/log?limit=abc",
        "/nope",
    ]
    cases += [("GET", p, b"", {}) for p in paths]
    cases += [
        ("PUT", "/v1/tasks/t", b, j)
        for b in (
            b'{"retrieval": {"knowledge_top_k": -1}}',
            b'{"answer": {"faithfulness": 99}}',
            b'{"personality": 5}',
        )
    ]
    cases += [("GET", "/v1/models", b"", {"Authorization": "Bearer " + "a" * 100_000})]
    cases += [
        (
            "POST",
            "/v1/memory/records",
            b'{"kind": "knowledge", "domain": "d", "text": "x"}',
            {"content-type": "text/plain"},
        )
    ]
    cases += [("DELETE", "/v1/memory/records", b"", {}), ("POST", "/v1/memory/undo", b"", {})]
    return cases + wrong_types(j)


def wrong_types(j: dict[str, str]) -> list[tuple[str, str, bytes, dict[str, str]]]:
    """Every field of the main requests with values of the wrong type or out of range."""
    chat = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
    wrong: list[Any] = [None, -1, 1e308, "x" * 3, [], {}, True]
    fields = [
        "max_tokens",
        "temperature",
        "top_p",
        "top_k",
        "seed",
        "stop",
        "logprobs",
        "top_logprobs",
        "response_format",
        "tools",
        "tool_choice",
        "presence_penalty",
    ]
    cases = []
    for i, field in enumerate(fields):
        body = {**chat, field: wrong[i % len(wrong)]}
        cases.append(("POST", "/v1/chat/completions", json.dumps(body).encode(), j))
    record = {"kind": "knowledge", "domain": "d", "text": "t"}
    for i, field in enumerate(["domain", "text", "source", "tags", "kind"]):
        body = {**record, field: wrong[(i + 2) % len(wrong)]}
        cases.append(("POST", "/v1/memory/records", json.dumps(body).encode(), j))
    for limit in ("0", "-3", "abc", "1e9", "99999999999999999999999"):
        cases.append(("GET", f"/v1/memory/records?limit={limit}", b"", {}))
    for body in (
        {"query": 5},
        {"query": "x", "mode": "psychic"},
        {"query": "x", "kinds": ["y"]},
        {"query": "x" * 100_000},
        {"query": "x", "domains": [5]},
    ):
        cases.append(("POST", "/v1/memory/search", json.dumps(body).encode(), j))
    for method in ("PUT", "PATCH", "DELETE"):
        cases.append((method, "/v1/chat/completions", b"{}", j))
    for path in (
        "/v1/adapters/ad_nope",
        "/v1/adapters/jobs/nope",
        "/v1/log/nope",
        "/v1/tasks/nope/history",
        "/v1/memory/records/kn_nope/history",
    ):
        cases.append(("GET", path, b"", {}))
    for patch in ({"text": 5}, {"domain": ""}, {"colour": 1}, {"score": 9}, {}):
        cases.append(("PATCH", "/v1/memory/records/kn_nope", json.dumps(patch).encode(), j))
    for lines in (b'{"kind": "knowledge"}\n{', b"not json lines", b'{"kind": "dream"}'):
        cases.append(("POST", "/v1/memory/import", lines, {"content-type": "application/x-ndjson"}))
    for task in (
        {"retrieval": "all"},
        {"expertise": "x" * 100_000},
        {"default_emotion": 5},
        {"answer": {"mode": "psychic"}},
        {"adapter": "ad_nope"},
    ):
        cases.append(("PUT", "/v1/tasks/t", json.dumps(task).encode(), j))
    cases.append(("POST", "/v1/log/nope/feedback", b'{"score": 5}', j))
    cases.append(("POST", "/v1/tasks/nope/adapters", b'{"rank": 0}', j))
    return cases


def bad_invocations(folder: Path) -> list[tuple[list[str], dict[str, str]]]:
    """Bad CLI invocations (arguments, extra environment), given a folder holding a garbage
    store, a latin-1 text file, a file named like a home, and a FIFO."""
    return [
        (["memory", "list", "--store", str(folder / "garbage.db")], {}),
        (["memory", "add", "--domain", "d", "x", "--store", str(folder / "garbage.db")], {}),
        (["memory", "list"], {"MINDPILOT_HOME": str(folder / "home-file")}),
        (["memory", "export", "-o", str(folder / "no" / "dir" / "x.jsonl")], {}),
        (["memory", "list", "--limit", "100000000000000000000"], {}),
        (["memory", "list", "--limit", "1e20"], {}),
        (["memory", "ingest", str(folder), "--domain", "d"], {}),
        (["memory", "ingest", str(folder / "pipe.md"), "--domain", "d"], {}),
        (["memory", "add", "--domain", "", "x"], {}),
        (["memory", "add", "--kind", "emotion", "calm"], {}),
        (["memory", "show", "kn_nope"], {}),
        (["memory", "history", "../../etc"], {}),
        (["memory", "import", str(folder / "notes.txt")], {}),
        (["memory", "search", ""], {}),
        (["memory", "delete"], {}),
        (["task", "show", "nope"], {}),
        (["task", "create", "x" * 500], {}),
        (["task", "create", "t", "--faithfulness", "99"], {}),
        (["generate", "hi", "--model", "nobody/nothing"], {}),
        (["generate", "hi", "--max-tokens", "-5"], {}),
        (["generate", "hi", "--temperature", "nan"], {}),
        (["generate", "hi", "--backend", "openai"], {}),
        (["classify", ""], {}),
        (["adapt", "nobody"], {}),
        (["adapters", "show", "ad_nope"], {}),
        (["keys", "revoke", "key_nope"], {}),
        (["serve", "--host", "0.0.0.0", "--open"], {}),
        (["serve", "--store", str(folder / "garbage.db"), "--open", "--port", "1"], {}),
        (["log", "show", "nope"], {}),
        (["memory", "restore", str(folder / "garbage.db"), "--yes"], {}),
        (["memory", "backup", str(folder / "no" / "dir" / "b.db")], {}),
        (["bench", "nonsense"], {}),
        (["memory", "add", "--kind", "experience", "--task", "t", "x", "--score", "7"], {}),
        (["memory", "add", "--kind", "emotion", "--task", "t", "calm", "--intensity", "-1"], {}),
        (["memory", "add", "--domain", "d", ""], {}),
        (["memory", "add", "--domain", "d", "x" * 100_001], {}),
        (["memory", "add", "--domain", "d", "x", "--supersedes", "kn_nope"], {}),
        (["memory", "search", "x", "--mode", "psychic"], {}),
        (["memory", "search", "x", "--limit", "-1"], {}),
        (["memory", "list", "--since", "yesterday"], {}),
        (["memory", "list", "--kind", "dream"], {}),
        (["memory", "delete", "kn_nope"], {}),
        (["memory", "delete", "--task", "nope", "--yes"], {}),
        (["memory", "undo", "-n", "never-used"], {}),
        (["memory", "import", str(folder / "missing.jsonl")], {}),
        (["memory", "export", "-o", str(folder)], {}),
        (["memory", "ingest", str(folder / "missing"), "--domain", "d"], {}),
        (["memory", "ingest", str(folder), "--domain", "d", "--max-tokens", "0"], {}),
        (["memory", "scan", "-n", "never-used"], {}),
        (["memory", "list", "-n", "bad namespace!"], {}),
        (["memory", "list", "-n", "x" * 300], {}),
        (["task", "update", "nope", "--personality", "p"], {}),
        (["task", "create", "t2", "--answer-mode", "psychic"], {}),
        (["task", "create", "t3", "--min-support", "2"], {}),
        (["task", "delete", "nope"], {}),
        (["generate", "hi", "--top-p", "0"], {}),
        (["generate", "hi", "--stop", ""], {}),
        (["generate", "hi", "--seed", "abc"], {}),
        (["generate", "hi", "--threads", "0"], {}),
        (["generate", "--task", "t", "hi", "--store", str(folder / "garbage.db")], {}),
        (["chat", "--session", "nope"], {}),
        (["classify", "x", "--labels", "only-one"], {}),
        (["adapt", "t", "--rank", "0"], {}),
        (["adapt", "t", "--lr", "5"], {}),
        (["adapters", "activate", "ad_nope"], {}),
        (["adapters", "delete", "ad_nope"], {}),
        (["log", "list", "--limit", "-2"], {}),
        (["log", "feedback", "nope", "--score", "3"], {}),
        (["keys", "create"], {}),
        (["config", "show"], {"MINDPILOT_THREADS": "many"}),
        (["generate", "hi"], {"MINDPILOT_THREADS": "0"}),
        (["memory", "list"], {"MINDPILOT_SYNCHRONOUS": "sometimes"}),
        (["memory", "list"], {"MINDPILOT_EMBEDDER": "nope"}),
        (["doctor", "--store", str(folder / "garbage.db")], {}),
    ]
