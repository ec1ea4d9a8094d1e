"""The chaos suite's quick form (scripts/chaos.py --quick) on the tiny model: a server killed
while clients write, an ingest killed, many clients at once, one tenant attacking another, bad
HTTP and CLI input. It exits 1 when a figure misses its goal (issue 16)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_the_quick_chaos_run_meets_every_goal(tmp_path: Path, tiny_model_dir: Path) -> None:
    out = tmp_path / "chaos.json"
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "chaos.py"), "--quick", "--model",
         str(tiny_model_dir), "--out", str(out)],
        capture_output=True, text=True, timeout=1500, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    figures = json.loads(out.read_text())
    assert figures["missed"] == []
    assert figures["kill"]["acknowledged"] > 0 and figures["kill"]["lost"] == 0
    assert figures["isolation"]["operations"] > 0 and figures["isolation"]["leaked"] == 0
    assert figures["mix"]["chats_completed"] > 0 and figures["mix"]["5xx"] == 0
    assert figures["bad_cli"]["invocations"] >= 10 and figures["bad_http"]["requests"] >= 40
