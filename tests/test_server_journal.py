"""A server on a PostgreSQL store keeps what a SQLite one keeps beside the records: a chat
session's answers and a chat completion reach `/v1/log`, feedback over HTTP is stored as an
experience, and another process (a fresh store on the URL, the CLI) reads them all back. Real
server (uvicorn, loopback), real PostgreSQL (the session's), the tiny model."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from mindpilot.applications.chat import Chat, Sessions
from mindpilot.autopilot import Autopilot
from mindpilot.cli import cli
from mindpilot.mental_process import Experience, TaskProfile, open_store
from tests.mp_fixtures import PostgresDatabases
from tests.server_helpers import serving


@pytest.fixture
def database(postgres_databases: PostgresDatabases) -> Iterator[str]:
    """The URL of a fresh, migrated database."""
    name, url = postgres_databases.new()
    yield url
    postgres_databases.drop(name)


def test_a_server_on_postgresql_keeps_sessions_the_log_and_feedback(
    tiny_autopilot: Autopilot, database: str, tmp_path: Path, hashing_env: None
) -> None:
    with serving(tiny_autopilot, tmp_path, target=database) as served:
        served.store.put_task(TaskProfile(name="support", personality="a kind agent"))
        # a session answered by the server's own engine, as `mindpilot chat` answers one
        with Sessions(served.store) as sessions:
            session = sessions.create("default", "support")
            chat = Chat(served.app.state.mindpilot.engine, sessions)
            in_session = chat.send(session.id, "My router blinks red.", max_new_tokens=3)
        answer = served.client().chat.completions.create(
            model="support", messages=[{"role": "user", "content": "Hi there"}], max_tokens=3
        )
        audit_id = (answer.model_extra or {})["mindpilot"]["audit_id"]
        with httpx.Client(base_url=f"{served.url}/v1", timeout=30) as http:
            listed = http.get("/log").json()
            assert [e["id"] for e in listed["data"]] == [audit_id, in_session.audit_id]
            (entry,) = http.get("/log", params={"session_id": session.id}).json()["data"]
            assert entry["session_id"] == session.id
            assert entry["response"] == in_session.text
            rated = http.post(f"/log/{audit_id}/feedback", json={"good": True, "note": "clear"})
            assert rated.status_code == 200, rated.text
            experience_id = rated.json()["id"]
            assert http.get(f"/log/{audit_id}").json()["experience_id"] == experience_id
            missing = http.post("/log/au_000000000000/feedback", json={"good": False})
            assert missing.status_code == 404

    with open_store(database) as again, Sessions(again) as sessions:  # another opener
        experience = again.get("default", experience_id)
        assert isinstance(experience, Experience)
        assert (experience.task, experience.situation, experience.score) == (
            "support",
            "Hi there",
            1.0,
        )
        turns = sessions.turns("default", session.id)
        assert [(t.role, t.audit_id) for t in turns] == [
            ("user", None),
            ("assistant", in_session.audit_id),
        ]
    runner = CliRunner()
    logged = runner.invoke(cli, ["log", "list", "--store", database, "--json"])
    assert logged.exit_code == 0, logged.output
    assert [e["id"] for e in json.loads(logged.output)] == [audit_id, in_session.audit_id]
    shown = runner.invoke(cli, ["session", "show", session.id, "--store", database, "--json"])
    assert shown.exit_code == 0, shown.output
    assert json.loads(shown.output)["turns"][1]["content"] == in_session.text
