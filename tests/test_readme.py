"""The README is a contract: every command block of README.md and docs/*.md runs as written,
in order, in one shell; each document from a fresh home (issue 17).

The blocks are run on the tiny model (`MINDPILOT_MODEL`) with the hashing embedder, so the
test checks that each command works, not what the small model answers. What the test adds to
the text, and why: the two quick-start commands are left out (CI runs them: they are the
set-up and this test suite), and so is the block that installs the wheel into a new virtualenv
(tests/test_wheel.py runs those steps); the server's port is a free one instead of 8000; after
a line that starts `mindpilot serve ... &` the script waits for the server to answer, as a user
would.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
QUICK_START = "scripts/demo.sh"
WHEEL_INSTALL = "mindpilot models install default"
_BLOCK = re.compile(r"^```(\w+)\n(.*?)^```", re.MULTILINE | re.DOTALL)
_SERVE_IN_BACKGROUND = re.compile(r"^\s*mindpilot serve\b[^#]*&\s*(#.*)?$")
_WAIT = """python - <<'WAIT'
import time, urllib.request
for _ in range(600):
    try:
        urllib.request.urlopen("http://127.0.0.1:{port}/health", timeout=1)
        break
    except OSError:
        time.sleep(0.2)
else:
    raise SystemExit("the server did not start")
WAIT"""


def blocks(path: Path) -> list[tuple[str, str]]:
    """(language, text) of each fenced block of a Markdown file."""
    return [(m.group(1), m.group(2)) for m in _BLOCK.finditer(path.read_text())]


def test_the_documents_have_command_blocks() -> None:
    found = [lang for path in DOCUMENTS for lang, _ in blocks(path)]
    assert found.count("bash") >= 6 and found.count("python") >= 2


def _script(folder: Path, port: int) -> str:
    lines = ["set -euo pipefail", "set -x"]
    for path in DOCUMENTS:  # each a walk-through of its own, from a fresh home
        lines.append(f"export MINDPILOT_HOME={folder / ('home-' + path.stem)}")
        for number, (language, text) in enumerate(blocks(path)):
            text = re.sub(r"(:|--port )8000\b", rf"\g<1>{port}", text)
            if language == "bash" and QUICK_START not in text and WHEEL_INSTALL not in text:
                for line in text.splitlines():
                    lines.append(line)
                    if _SERVE_IN_BACKGROUND.match(line):
                        lines.append(_WAIT.format(port=port))
            elif language == "python":
                program = folder / f"{path.stem}-{number}.py"
                program.write_text(text)
                lines.append(f"python {program}")
    return "\n".join(lines) + "\n"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.mark.slow
def test_every_documented_command_runs(tmp_path: Path, tiny_model_dir: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    (work / "examples").symlink_to(ROOT / "examples")  # the files the commands name
    script = tmp_path / "readme.sh"
    script.write_text(_script(tmp_path, _free_port()))
    bin_dir = Path(sys.executable).parent
    env = {
        **os.environ,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "MINDPILOT_MODEL": str(tiny_model_dir),
        "MINDPILOT_EMBEDDER": "hashing",
        "HF_HUB_OFFLINE": "1",
    }
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "MINDPILOT_OPENAI_API_KEY"):
        env.pop(name, None)
    shell = subprocess.Popen(
        ["bash", str(script)], cwd=work, env=env, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True, start_new_session=True,
    )  # fmt: skip
    try:
        output, _ = shell.communicate(timeout=1200)
    finally:
        # the server the README started in the background, and anything else left
        with contextlib.suppress(ProcessLookupError):
            os.killpg(shell.pid, signal.SIGKILL)
    assert shell.returncode == 0, output[-6000:]
    assert "Traceback" not in output, output[-6000:]
