"""The wheel built from the repository ships only `mindpilot` (nothing generic such as a
top-level `benchmarks` lands in site-packages) and registers the built-in plugins."""

from __future__ import annotations

import configparser
import shutil
import subprocess
import sys
import tomllib
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
DIST_INFO = f"mindpilot-{VERSION}.dist-info"
# Built from a copy: setuptools builds in the source tree, and stale files in a build/ folder
# there would land in the wheel (and concurrent builds would share it).
NOT_SOURCE = shutil.ignore_patterns(
    ".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", ".*_cache", ".hypothesis"
)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[zipfile.ZipFile]:
    work = tmp_path_factory.mktemp("wheel")
    source = work / "source"
    shutil.copytree(ROOT, source, ignore=NOT_SOURCE)
    # offline: the venv's setuptools builds it, nothing is downloaded
    command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation"]
    command += ["--no-index", "--quiet", "-w", str(work / "dist"), str(source)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    (built,) = (work / "dist").glob("mindpilot-*.whl")
    with zipfile.ZipFile(built) as opened:
        yield opened


def test_the_wheel_ships_only_mindpilot(wheel: zipfile.ZipFile) -> None:
    names = wheel.namelist()
    assert {name.split("/")[0] for name in names} == {"mindpilot", DIST_INFO}
    assert "mindpilot/bench/suite.py" in names
    assert "mindpilot/bench/datasets.py" in names
    assert "mindpilot/py.typed" in names  # PEP 561: type checkers read our annotations


def test_the_wheel_registers_the_builtin_plugins(wheel: zipfile.ZipFile) -> None:
    entry_points = configparser.ConfigParser()
    entry_points.read_string(wheel.read(f"{DIST_INFO}/entry_points.txt").decode())
    for group in ("mindpilot.backends", "mindpilot.stores", "mindpilot.embedders"):
        assert entry_points.has_section(group) and entry_points.options(group), group
    assert entry_points.get("console_scripts", "mindpilot") == "mindpilot.cli:main"
