"""`mindpilot memory ...` and `mindpilot task ...` through the real CLI root."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from mindpilot.cli import cli


@pytest.fixture
def run(hashing_env: None, tmp_path: Path):  # type: ignore[no-untyped-def]
    """Invoke the CLI against a store in tmp_path; `run(..., ok=False)` expects a failure."""
    store = str(tmp_path / "cli.db")

    def invoke(*args: str, ok: bool = True, input: str | None = None) -> Result:
        group, command, *rest = args
        result = CliRunner().invoke(cli, [group, command, "--store", store, *rest], input=input)
        assert (result.exit_code == 0) == ok, result.output
        return result

    return invoke


def as_json(result: Result) -> Any:
    return json.loads(result.stdout)


def test_add_list_show_search(run) -> None:  # type: ignore[no-untyped-def]
    kn = as_json(run("memory", "add", "--domain", "billing", "Refunds take five days", "--json"))
    run(
        "memory",
        "add",
        "--kind",
        "emotion",
        "--task",
        "support",
        "empathy",
        "--guidance",
        "be kind",
    )
    run("memory", "add", "--kind", "experience", "--task", "support", "Where is my parcel?",
        "--response", "On its way", "--score", "1")  # fmt: skip
    listed = as_json(run("memory", "list", "--json"))
    assert [r["kind"] for r in listed] == ["experience", "emotion", "knowledge"]
    assert as_json(run("memory", "show", kn["id"], "--json")) == kn
    shown = run("memory", "show", kn["id"]).stdout  # times as dates; --json keeps the numbers
    assert re.search(r"created_at\s+│\s+20\d\d-\d\d-\d\d \d\d:\d\d:\d\d", shown), shown
    assert str(kn["created_at"]) not in shown
    hits = as_json(run("memory", "search", "refunds", "--json"))
    assert hits[0]["record"]["id"] == kn["id"] and -1 <= hits[0]["similarity"] <= 1
    people = run("memory", "list").stdout
    assert kn["id"] in people and "Refunds take five days" in people
    assert kn["id"] in run("memory", "search", "refunds days").stdout


def test_supersede_history_undo_delete(run) -> None:  # type: ignore[no-untyped-def]
    old = as_json(run("memory", "add", "--domain", "api", "limit is 100", "--json"))
    new = as_json(run("memory", "add", "--domain", "api", "limit is 500", "--supersedes",
                      old["id"], "--json"))  # fmt: skip
    assert [r["id"] for r in as_json(run("memory", "list", "--json"))] == [new["id"]]
    assert len(as_json(run("memory", "list", "--all", "--json"))) == 2
    ops = [c["op"] for c in as_json(run("memory", "history", old["id"], "--json"))]
    assert ops == ["add", "supersede"]
    assert "supersede" in run("memory", "history", old["id"]).stdout
    undone = as_json(run("memory", "undo", "--json"))
    assert {c["op"] for c in undone} == {"add", "supersede"}
    assert [r["id"] for r in as_json(run("memory", "list", "--json"))] == [old["id"]]
    run("memory", "delete", old["id"])
    assert as_json(run("memory", "list", "--json")) == []


def test_scoped_delete_asks_and_stays_in_its_namespace(run) -> None:  # type: ignore[no-untyped-def]
    for ns in ("alice", "bob"):
        run("memory", "add", "-n", ns, "--domain", "d", f"{ns} fact")
    run("memory", "delete", "-n", "alice", "--all", input="n\n", ok=False)
    assert len(as_json(run("memory", "list", "-n", "alice", "--json"))) == 1
    run("memory", "delete", "-n", "alice", "--all", input="y\n")
    missing = run("memory", "delete", "-n", "bob", "--domain", "x", "--yes", ok=False)
    assert "no domain 'x'" in missing.output
    assert [r["text"] for r in as_json(run("memory", "list", "-n", "bob", "--json"))] == [
        "bob fact"
    ]
    result = run("memory", "delete", "--task", "t", "--domain", "d", ok=False)
    assert "one of them" in result.output


def test_ingest_a_folder(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.md").write_text("# Refunds\n\nRefunds take five days.\n", encoding="utf-8")
    (docs / "b.txt").write_text("Shipping takes a week. " * 200, encoding="utf-8")
    added = as_json(run("memory", "ingest", str(docs), "--domain", "faq", "--max-tokens", "50",
                        "--overlap", "5", "--json"))  # fmt: skip
    assert added["added"] > 2
    records = as_json(run("memory", "list", "--limit", "1000", "--json"))
    assert {Path(r["source"]).name for r in records} == {"a.md", "b.txt"}
    assert len(as_json(run("memory", "undo", "--json"))) == added["added"]


def test_ingest_checks_every_file_before_writing(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "good.txt").write_text("fine text", encoding="utf-8")
    (docs / "bad.txt").write_bytes(b"\xff\xfe\x00binary")
    result = run("memory", "ingest", str(docs), "--domain", "faq", ok=False)
    assert "bad.txt" in result.output and "Error" in result.output
    assert as_json(run("memory", "list", "--json")) == []


def test_export_import_round_trip(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    run("memory", "add", "--domain", "d", "one fact", "--tag", "x")
    run("task", "create", "support", "--expertise", "d")
    out = tmp_path / "export.jsonl"
    run("memory", "export", "-o", str(out))
    run("memory", "import", str(out), "-n", "copy")
    original = as_json(run("memory", "list", "--json"))
    copied = as_json(run("memory", "list", "-n", "copy", "--json"))
    assert [{**r, "namespace": "x"} for r in copied] == [{**r, "namespace": "x"} for r in original]
    stdout = run("memory", "export", "-n", "copy").stdout
    assert stdout.count("\n") == 2
    result = run("memory", "import", str(out), "-n", "copy", ok=False)
    assert "already exist" in result.output and "nothing was imported" in result.output
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"kind": "knowledge", "domain": "d"}\n', encoding="utf-8")
    assert "line 1" in run("memory", "import", str(bad), "-n", "other", ok=False).output


def test_bad_input_gets_a_clear_error(run) -> None:  # type: ignore[no-untyped-def]
    assert "--domain is required" in run("memory", "add", "text", ok=False).output
    assert "'text' is empty" in run("memory", "add", "--domain", "d", "  ", ok=False).output
    assert "no record 'kn_x'" in run("memory", "show", "kn_x", ok=False).output
    assert "does not exist" in run("memory", "list", "-n", "typo", ok=False).output
    assert "nothing to undo" in run("memory", "undo", ok=False).output
    assert "empty" in run("memory", "search", " ", ok=False).output


def test_task_commands(run) -> None:  # type: ignore[no-untyped-def]
    made = as_json(
        run("task", "create", "support", "--description", "help", "--expertise", "billing",
            "--expertise", "shipping", "--knowledge-top-k", "2", "--json")
    )  # fmt: skip
    assert (
        made["expertise"] == ["billing", "shipping"] and made["retrieval"]["knowledge_top_k"] == 2
    )
    assert "already exists" in run("task", "create", "support", ok=False).output
    updated = as_json(run("task", "update", "support", "--personality", "patient",
                          "--min-similarity", "0.5", "--json"))  # fmt: skip
    assert updated["description"] == "help" and updated["personality"] == "patient"
    assert updated["retrieval"] == {**made["retrieval"], "min_similarity": 0.5}
    assert updated["version"] == 2
    assert [t["name"] for t in as_json(run("task", "list", "--json"))] == ["support"]
    assert (
        "support" in run("task", "list").stdout
        and "patient" in run("task", "show", "support").stdout
    )
    assert (
        "knowledge_top_k"
        in run("task", "update", "support", "--knowledge-top-k", "-1", ok=False).output
    )
    run("task", "delete", "support")
    assert "no task 'support'" in run("task", "show", "support", ok=False).output


def test_add_quiet_prints_the_id_alone(run) -> None:  # type: ignore[no-untyped-def]
    record_id = run("memory", "add", "-q", "--domain", "billing", "Refunds take five days").stdout
    shown = as_json(run("memory", "show", record_id.strip(), "--json"))
    assert shown["id"] == record_id.strip() and shown["text"] == "Refunds take five days"


# ---- the unlucky user: damaged files, odd homes, OS refusals (issue 16) ---------------------
def _one_line_error(result: Result, *expected: str) -> None:
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    assert result.stderr.startswith("Error: ")
    for text in expected:
        assert text in result.stderr, result.stderr


def test_a_damaged_store_is_named_with_the_way_back(hashing_env: None, tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(bytes(range(256)) * 40)
    before = garbage.read_bytes()
    result = CliRunner().invoke(cli, ["memory", "list", "--store", str(garbage)])
    _one_line_error(result, str(garbage), "damaged", "memory restore")
    assert garbage.read_bytes() == before  # nothing written to it


def test_os_refusals_are_one_line(
    hashing_env: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runner, store = CliRunner(), str(tmp_path / "s.db")
    runner.invoke(cli, ["memory", "add", "--domain", "d", "x", "--store", store])
    missing = str(tmp_path / "no" / "such" / "out.jsonl")
    result = runner.invoke(cli, ["memory", "export", "-o", missing, "--store", store])
    _one_line_error(result, "No such file or directory", missing)
    huge = runner.invoke(cli, ["memory", "list", "--limit", str(10**20), "--store", store])
    _one_line_error(huge, "too large")
    home_file = tmp_path / "home-is-a-file"
    home_file.write_text("")
    monkeypatch.setenv("MINDPILOT_HOME", str(home_file))
    _one_line_error(runner.invoke(cli, ["memory", "list"]), "is a file, not a folder")


def test_home_and_store_are_private(hashing_env: None, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    home = tmp_path / "home"
    monkeypatch.setenv("MINDPILOT_HOME", str(home))
    assert CliRunner().invoke(cli, ["memory", "add", "--domain", "d", "x"]).exit_code == 0
    assert CliRunner().invoke(cli, ["keys", "create", "--namespace", "d"]).exit_code == 0
    assert home.stat().st_mode & 0o777 == 0o700
    for name in ("mindpilot.db", "keys.db"):
        assert (home / name).stat().st_mode & 0o777 == 0o600, name
