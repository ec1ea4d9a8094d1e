"""The resident model (issue 17): `mindpilot generate` answers through a running local
`mindpilot serve` instead of loading the model, and falls back to loading it when there is
none (or when asked to, or when the server could not answer the same question)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from mindpilot.autopilot import Autopilot
from mindpilot.cli import cli
from tests.server_helpers import Served, serving


@pytest.fixture
def resident(
    tiny_autopilot: Autopilot, tiny_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Served]:
    monkeypatch.setenv("MINDPILOT_MODEL", str(tiny_model_dir))  # the CLI's default model
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
    resident: Served, tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = resident.health()["completed"]
    generate("--model", str(tiny_model_dir))  # a model named: loaded here
    generate("--task", "not-on-the-server")  # a task the server does not list
    generate("--no-log")  # the server would log it
    monkeypatch.setenv("MINDPILOT_SERVER", "off")
    generate()
    monkeypatch.setenv("MINDPILOT_SERVER", "http://127.0.0.1:9")  # nothing listens there
    generate()
    assert resident.health()["completed"] == before
