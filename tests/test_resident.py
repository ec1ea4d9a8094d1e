"""The resident server (issue 17): `mindpilot generate`, `memory add` and `memory search` go
through a running local `mindpilot serve` instead of loading the model or the embedder, and
fall back to in-process when there is none (or when asked to, or when the server could not
answer the same question: another store, another namespace, another model)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from mindpilot.autopilot import Autopilot
from mindpilot.cli import cli
from mindpilot.errors import NotFoundError
from tests.server_helpers import Served, serving


@pytest.fixture
def resident(
    tiny_autopilot: Autopilot, tiny_model_dir: Path, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, hashing_env: None,
) -> Iterator[Served]:  # fmt: skip
    monkeypatch.setenv("MINDPILOT_MODEL", str(tiny_model_dir))  # the CLI's default model
    monkeypatch.setenv("MINDPILOT_STORE", str(tmp_path / "store.db"))  # the server's store
    with serving(tiny_autopilot, tmp_path) as served:
        monkeypatch.setenv("MINDPILOT_SERVER", served.url)
        yield served


def generate(*args: str) -> str:
    result = CliRunner().invoke(cli, ["generate", "Hello there", "--max-tokens", "6", *args])
    assert result.exit_code == 0, result.output
    return result.stdout


def test_generate_goes_through_the_resident_server(resident: Served) -> None:
    before = resident.health()["completed"]
    through = generate()
    assert resident.health()["completed"] == before + 1  # the server made this answer
    here = generate("--local")
    assert resident.health()["completed"] == before + 1  # this one was made in-process
    assert through == here  # the same model, greedy: the same answer either way
    answer = json.loads(generate("--json"))
    assert answer["server"] == resident.url and answer["text"] + "\n" == through


def test_no_server_or_another_question_runs_in_process(
    resident: Served, tiny_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = resident.health()["completed"]
    generate("--model", str(tiny_model_dir))  # a model named: loaded here
    generate("--task", "not-on-the-server")  # a task the server does not list
    generate("--no-log")  # the server would log it
    generate("--store", str(tmp_path / "another.db"))  # the server has another store
    generate("-n", "shop")  # the server's open namespace is "default"
    monkeypatch.setenv("MINDPILOT_SERVER", "off")
    generate()
    monkeypatch.setenv("MINDPILOT_SERVER", "http://127.0.0.1:9")  # nothing listens there
    generate()
    assert resident.health()["completed"] == before


def memory(*args: str, code: int = 0) -> str:
    result = CliRunner().invoke(cli, ["memory", *args])
    assert result.exit_code == code, result.output
    return result.stdout if code == 0 else result.stderr


def test_memory_add_and_search_go_through_the_resident_server(
    resident: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    added = json.loads(memory("add", "--domain", "billing", "Refunds take five days.", "--json"))
    stored = resident.store.get("default", added["id"])
    assert stored.to_dict() == added  # the server wrote it, and --json shows it as stored
    assert [c.actor for c in resident.store.history("default", added["id"])] == ["api"]
    newer = memory("add", "-q", "--domain", "billing", "--supersedes", added["id"],
                   "Refunds take three days.").strip()  # fmt: skip
    assert resident.store.get("default", added["id"]).superseded_by == newer
    emotion = json.loads(memory("add", "--kind", "emotion", "--task", "support", "empathy",
                                "--guidance", "acknowledge first", "--json"))  # fmt: skip
    assert resident.store.get("default", emotion["id"]).kind == "emotion"

    through = json.loads(memory("search", "how long do refunds take", "--json"))
    monkeypatch.setenv("MINDPILOT_SERVER", "off")
    here = json.loads(memory("search", "how long do refunds take", "--json"))
    assert through == here and through[0]["record"]["id"] == newer  # the same store, same hits
    table = memory("search", "refunds", "--domain", "billing")
    assert newer in table and "Refunds take three days." in table


def test_memory_commands_stay_in_process_for_another_store_or_namespace(
    resident: Served, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = tmp_path / "other.db"
    memory_id = memory("add", "-q", "--store", str(other), "--domain", "d", "Elsewhere.").strip()
    with pytest.raises(NotFoundError):
        resident.store.get("default", memory_id)  # not written by the server
    memory("add", "-q", "-n", "shop", "--domain", "d", "Another namespace.")
    (record,) = resident.store.list("shop")  # the same file, written here by the CLI
    assert [c.actor for c in resident.store.history("shop", record.id)] == ["cli"]


def test_a_refusal_through_the_resident_server_is_a_one_line_error(resident: Served) -> None:
    message = memory("add", "--domain", "d", "--supersedes", "kn_000000000000", "New.", code=1)
    assert "kn_000000000000" in message and resident.url in message
    assert "Traceback" not in message
