"""`mindpilot chat | log | feedback | session` through the real CLI root (and one real process)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from mindpilot.applications.chat import Chat, Sessions
from mindpilot.autopilot import Autopilot
from mindpilot.engine import Engine
from mindpilot.mental_process import Knowledge, TaskProfile, open_store
from mindpilot.monitor import AuditLog


@pytest.fixture
def run(hashing_env: None, tmp_path: Path):  # type: ignore[no-untyped-def]
    """Invoke the CLI on a store in tmp_path; `run(..., ok=False)` expects exit code 1."""
    store = str(tmp_path / "cli.db")

    def invoke(*args: str, ok: bool = True, input: str | None = None) -> Result:
        result = CliRunner().invoke(cli_root(), [*args, "--store", store], input=input)
        assert result.exit_code == (0 if ok else 1), result.output
        assert "Traceback" not in result.output
        return result

    invoke.store = store  # type: ignore[attr-defined]
    return invoke


def cli_root() -> Any:
    from mindpilot.cli import cli

    return cli


@pytest.fixture
def support(run: Any) -> str:
    """A support task whose knowledge holds a refund fact; returns the fact's id."""
    with open_store(run.store) as store:
        store.put_task(TaskProfile(name="support", personality="a support agent"))
        return store.add(Knowledge(domain="billing", text="Refunds take five days to arrive")).id


def session_id(result: Result) -> str:
    found = re.search(r"session (cs_[0-9a-f]{12})", result.stdout)
    assert found, result.stdout
    return found.group(1)


def chat(run: Any, model: Path, lines: list[str], *args: str, ok: bool = True) -> Result:
    return run(
        "chat", "--model", str(model), "--max-tokens", "4", *args,
        input="".join(f"{line}\n" for line in lines), ok=ok,
    )  # fmt: skip


def test_chat_answers_rates_and_shows_sources(run: Any, support: str, tiny_model_dir: Path) -> None:
    lines = ["How long do refunds take to arrive?", "/sources", "/good quick", "/quit", "ignored"]
    result = chat(run, tiny_model_dir, lines, "--task", "support")
    out = result.stdout
    assert out.count("bot> ") == 1 and "you> " in out
    assert f"knowledge {support} v1 similarity" in out and "Refunds take five days" in out
    assert "thanks: saved as experience ex_" in out
    session = session_id(result)
    turns = json.loads(run("session", "show", session, "--json").stdout)["turns"]
    assert [t["role"] for t in turns] == ["user", "assistant"]
    entries = json.loads(run("log", "list", "--json").stdout)
    assert [e["id"] for e in entries] == [turns[1]["audit_id"]]
    assert entries[0]["session_id"] == session and entries[0]["used"][0]["id"] == support
    assert entries[0]["experience_id"]
    listed = json.loads(run("memory", "list", "--kind", "experience", "--json").stdout)
    assert listed[0]["score"] == 1.0 and listed[0]["note"] == "quick"


def test_chat_json_is_one_object_per_event(run: Any, support: str, tiny_model_dir: Path) -> None:
    """For scripts: JSON Lines on stdout (no prompts), the help on stderr."""
    lines = ["How long do refunds take to arrive?", "/sources", "/bad too short"]
    result = chat(run, tiny_model_dir, lines, "--task", "support", "--json")
    started, answer, sources, feedback = [json.loads(line) for line in result.stdout.splitlines()]
    assert started == {"session": started["session"], "task": "support", "namespace": "default"}
    assert answer["session"] == started["session"] and answer["text"] is not None
    assert answer["used"][0]["id"] == support and answer["usage"]["completion_tokens"] <= 4
    assert sources["sources"][0]["id"] == support
    assert feedback["feedback"] == "bad" and feedback["experience"].startswith("ex_")
    assert "you> " not in result.stdout and "/good" in result.stderr


def test_chat_continues_a_session_and_ends_at_end_of_input(
    run: Any, support: str, tiny_model_dir: Path
) -> None:
    first = chat(run, tiny_model_dir, ["My refund is late"], "--task", "support")
    session = session_id(first)
    second = chat(run, tiny_model_dir, ["How long now?", "/bad not helpful"], "--session", session)
    assert session_id(second) == session and "thanks" in second.stdout
    turns = json.loads(run("session", "show", session, "--json").stdout)["turns"]
    assert [t["content"] for t in turns if t["role"] == "user"] == [
        "My refund is late",
        "How long now?",
    ]
    new = chat(run, tiny_model_dir, ["/new", "hello"], "--session", session)
    sessions = re.findall(r"session (cs_[0-9a-f]{12})", new.stdout)
    assert sessions[0] == session and sessions[1] != session
    assert len(json.loads(run("session", "list", "--json").stdout)) == 2


def test_chat_commands_without_an_answer_do_not_end_the_chat(
    run: Any, tiny_model_dir: Path
) -> None:
    result = chat(run, tiny_model_dir, ["/good", "/sources", "/what", "", "hi"])
    assert "there is no answer to rate yet" in result.stderr
    assert "there is no answer yet" in result.stderr
    assert "unknown command /what" in result.stdout and "bot> " in result.stdout


def test_log_list_and_show(run: Any, support: str, tiny_model_dir: Path) -> None:
    chat(run, tiny_model_dir, ["How long do refunds take to arrive?"], "--task", "support")
    chat(run, tiny_model_dir, ["hello"])
    newest, oldest = json.loads(run("log", "list", "--json").stdout)
    assert newest["task"] is None and oldest["task"] == "support"
    assert [
        e["id"] for e in json.loads(run("log", "list", "--task", "support", "--json").stdout)
    ] == [oldest["id"]]
    assert json.loads(run("log", "list", "--limit", "1", "--json").stdout)[0]["id"] == newest["id"]
    assert oldest["id"] in run("log", "list").stdout
    shown = run("log", "show", oldest["id"]).stdout
    for part in ("-- prompt", "[system] You are a support agent.", "How long do refunds take",
                 f"knowledge {support} v1", "-- response --", "decode"):  # fmt: skip
        assert part in shown, part
    assert json.loads(run("log", "show", oldest["id"], "--json").stdout) == oldest
    assert json.loads(run("log", "list", "-n", "other", "--json").stdout) == []


def test_feedback_command(run: Any, support: str, tiny_model_dir: Path) -> None:
    chat(run, tiny_model_dir, ["How long do refunds take to arrive?"], "--task", "support")
    (entry,) = json.loads(run("log", "list", "--json").stdout)
    result = run("feedback", entry["id"], "--bad", "--note", "too vague", "--json")
    experience = json.loads(result.stdout)
    assert experience["score"] == -1.0 and experience["note"] == "too vague"
    assert experience["situation"] == "How long do refunds take to arrive?"
    assert "good feedback" in run("feedback", entry["id"], "--good").stdout


def test_bad_ids_are_one_line_errors(run: Any, tiny_model_dir: Path) -> None:
    for args, expected in [
        (("log", "show", "au_000000000000"), "no audit entry 'au_000000000000'"),
        (("feedback", "au_000000000000", "--good"), "no audit entry"),
        (("session", "show", "cs_000000000000"), "no chat session 'cs_000000000000'"),
        (("chat", "--session", "cs_000000000000", "-m", str(tiny_model_dir)), "no chat session"),
    ]:
        result = run(*args, ok=False)
        assert expected in result.stderr and "fix:" in result.stderr
    missing = CliRunner().invoke(cli_root(), ["feedback", "au_1", "--store", run.store])
    assert missing.exit_code == 2 and "--good or --bad" in missing.stderr


def test_chat_refuses_a_session_of_another_task(run: Any, tiny_model_dir: Path) -> None:
    session = session_id(chat(run, tiny_model_dir, ["hi"], "--task", "support"))
    result = chat(run, tiny_model_dir, [], "--session", session, "--task", "sales", ok=False)
    assert "is a chat for task 'support'" in result.stderr
    assert json.loads(run("log", "list", "--json").stdout)[0]["session_id"] == session


def test_chat_in_a_real_process_with_piped_input(
    tiny_model_dir: Path, tmp_path: Path, isolated_home: Path
) -> None:
    env = {**os.environ, "MINDPILOT_EMBEDDER": "hashing", "MINDPILOT_HOME": str(isolated_home)}
    done = subprocess.run(
        [sys.executable, "-m", "mindpilot", "chat", "-m", str(tiny_model_dir), "--task",
         "support", "-n", "acme", "--max-tokens", "3"],
        input="Hello there\n/sources\n", capture_output=True, text=True, env=env, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("bot> ") == 1 and "no Mental Process records were used" in done.stdout
    with (
        open_store(isolated_home / "mindpilot.db", embedder="hashing") as store,
        Sessions(store) as sessions,
        AuditLog(store) as audit,
    ):
        (session,) = sessions.list("acme")
        assert [e.session_id for e in audit.list("acme")] == [session.id]


@pytest.mark.slow
def test_a_two_turn_support_chat_uses_a_fictional_fact(
    default_autopilot: Autopilot, tmp_path: Path
) -> None:
    """The follow-up only makes sense with the first turn; the answer needs the stored fact."""
    with open_store(tmp_path / "real.db") as store, Sessions(store) as sessions:
        store.put_task(
            TaskProfile(name="support", description="answer customers' questions about routers")
        )
        fact = store.add(
            Knowledge(
                domain="routers",
                text="To reset the Zorblax 9000 router, hold the green Moon button for 12 seconds.",
            )
        )
        chat = Chat(Engine(default_autopilot, store, AuditLog(store)), sessions)
        session = sessions.create("default", "support")
        chat.send(session.id, "I have a Zorblax 9000 router.", max_new_tokens=40)
        answer = chat.send(session.id, "How do I reset it?", max_new_tokens=60)
    assert fact.id in answer.used_ids
    assert "Moon" in answer.text or "12 seconds" in answer.text, answer.text
    assert answer.prompt[-3].content == "I have a Zorblax 9000 router."  # the first turn is there
