"""A new user's path on the real bundled model: store labelled examples, `mindpilot adapt`,
see the validation gain, and get answers through the adapter with provenance naming it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from mindpilot.autopilot import Autopilot
from mindpilot.bench.datasets import balanced_sample, vader_movie_reviews
from mindpilot.cli import cli
from mindpilot.mental_process import Experience, open_store

pytestmark = pytest.mark.slow


def test_adapt_beats_the_bare_model_and_classify_then_uses_it(
    default_autopilot: Autopilot, isolated_home: Path
) -> None:
    # default_autopilot first: it converts the bundled model into the shared cache
    reviews = balanced_sample(vader_movie_reviews(), 320, seed=11)
    with open_store(isolated_home / "mindpilot.db") as store:
        for review in reviews:
            store.add(Experience(task="sentiment", situation=review.text, response=review.label))
    runner = CliRunner()
    done = runner.invoke(
        cli,
        ["adapt", "sentiment", "--json", "--epochs", "1", "--min-steps", "16"],
        catch_exceptions=False,
    )
    assert done.exit_code == 0, done.output
    manifest = json.loads(done.output)
    metrics = manifest["metrics"]
    assert metrics["name"] == "accuracy" and metrics["examples"] >= 60
    assert metrics["after"] > metrics["before"], metrics  # better than the bare base
    assert manifest["activated"] is True
    assert len(manifest["records"]) == 320 and manifest["base_model"] == "SmolLM2-135M-Instruct"

    answer = runner.invoke(cli, ["classify", "An utterly charming, funny film.", "--json"])
    assert answer.exit_code == 0, answer.output
    result = json.loads(answer.output)
    assert result["label"] == "positive"
    assert result["adapter"]["id"] == manifest["id"] and result["examples"] == []

    listed = runner.invoke(cli, ["adapters", "list", "--json"])
    assert [a["active"] for a in json.loads(listed.output)] == [True]
