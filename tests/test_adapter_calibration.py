"""The label offset of a classification adapter: chosen on its validation split, stored in
the manifest, applied by `classify`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mindpilot.adapters import AdapterConfig, AdapterLibrary, adapt, set_active
from mindpilot.adapters.data import Example
from mindpilot.adapters.evaluate import MIN_CALIBRATION, accuracy, calibrate
from mindpilot.applications import classify
from mindpilot.autopilot import Autopilot
from mindpilot.engine import Engine
from mindpilot.mental_process import Experience, Store, open_store

LABELS = ("negative", "positive")


def examples(golds: list[str]) -> list[Example]:
    return [Example((), f" {g}", 1.0, (str(i), 1), g, f"text {i}") for i, g in enumerate(golds)]


def test_the_offset_undoes_a_lean_towards_one_label() -> None:
    # every score leans 2 nats to "positive": the negatives' margins are -1.5, the positives' -3
    golds = ["negative", "positive"] * 15
    scores = [[-1.0, 0.5] if g == "negative" else [-2.0, 1.0] for g in golds]
    valid = examples(golds)
    assert accuracy(scores, valid, LABELS) == 0.5
    offsets = calibrate(scores, valid, LABELS)
    assert set(offsets) == {"positive"} and -3.0 < offsets["positive"] < -1.5
    assert accuracy(scores, valid, LABELS, offsets) == 1.0


def test_no_offset_when_none_is_needed_or_too_few_examples_say_so() -> None:
    golds = ["negative", "positive"] * 15
    right = [[0.0, -1.0] if g == "negative" else [-1.0, 0.0] for g in golds]
    assert calibrate(right, examples(golds), LABELS) == {}  # the smallest best offset: none
    few = golds[: MIN_CALIBRATION - 2]
    leaning = [[-1.0, 0.5] if g == "negative" else [-2.0, 1.0] for g in few]
    assert calibrate(leaning, examples(few), LABELS) == {}
    three = [[0.0, 1.0, 2.0]] * 30
    assert calibrate(three, examples(["a"] * 30), ("a", "b", "c")) == {}


def test_an_offset_that_lowers_validation_accuracy_is_not_kept() -> None:
    # 28 right by a small margin; 2 wrong with huge confidence pull the cross-entropy fit over
    golds = ["negative", "positive"] * 15
    scores = [[0.0, -0.1] if g == "negative" else [-0.1, 0.0] for g in golds]
    scores[1] = scores[3] = [30.0, 0.0]  # two positives scored far towards "negative"
    assert accuracy(scores, examples(golds), LABELS) == 28 / 30
    assert calibrate(scores, examples(golds), LABELS) == {}


@pytest.fixture
def store(tmp_path: Path) -> Any:
    with open_store(tmp_path / "store.db", embedder="hashing") as store:
        yield store


@pytest.mark.parametrize("label", ["positive", "negative"])
def test_classify_applies_the_manifest_s_offset(
    tiny_autopilot: Autopilot, store: Store, tmp_path: Path, label: str
) -> None:
    for i in range(12):
        store.add(Experience(task="sentiment", situation=f"great {i}", response="positive"))
        store.add(Experience(task="sentiment", situation=f"awful {i}", response="negative"))
    library = AdapterLibrary(tmp_path / "adapters")
    config = AdapterConfig(epochs=1, min_steps=2, batch_size=8, rank=4, alpha=8)
    adapted = adapt(tiny_autopilot, store, "default", "sentiment", config, library=library)
    assert isinstance(adapted.manifest.label_offsets, dict)
    set_active(store, "default", "sentiment", adapted.manifest.id)
    # an offset far larger than any log-probability gap decides every answer
    path = adapted.folder / "manifest.json"
    saved = json.loads(path.read_text())
    path.write_text(json.dumps({**saved, "label_offsets": {label: 1000.0}}))
    engine = Engine(tiny_autopilot, store, adapters=library)
    for text in ("great 3", "awful 3", "something else"):
        result = classify(engine, text)
        assert result.label == label and result.adapter is not None
        assert result.probability(label) == pytest.approx(1.0)
