"""The training recipe by the task's kind (docs/adapters.md, "How the recipe was chosen"):
epochs, learning-rate schedule and batching left unset take the kind's; explicit settings
win, and the manifest records what was used."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest

from mindpilot.adapters import AdapterConfig, AdapterLibrary, adapt
from mindpilot.adapters.config import BATCHES, EPOCHS, SCHEDULES
from mindpilot.adapters.train import Tokenized, _batches, rate_factor
from mindpilot.autopilot import Autopilot
from mindpilot.errors import ConfigError
from mindpilot.mental_process import Experience, open_store


def test_the_kind_fills_in_epochs_schedule_and_batching_unless_they_are_set() -> None:
    config = AdapterConfig()
    assert (config.epochs, config.schedule, config.batching) == (None, None, None)
    for kind in ("classification", "generation"):
        filled = config.for_kind(kind)
        assert (filled.epochs, filled.schedule) == (EPOCHS[kind], SCHEDULES[kind])
        assert filled.batching == BATCHES[kind]
    mine = AdapterConfig(epochs=2, schedule="constant", batching="length")
    filled = mine.for_kind("classification")
    assert (filled.epochs, filled.schedule, filled.batching) == (2, "constant", "length")


def test_an_unknown_schedule_or_batching_is_a_clear_error() -> None:
    with pytest.raises(ConfigError, match="schedule='cosine'") as caught:
        AdapterConfig(schedule="cosine")
    assert "constant or linear" in (caught.value.hint or "")
    with pytest.raises(ConfigError, match="batching='sorted'") as caught:
        AdapterConfig(batching="sorted")
    assert "random or length" in (caught.value.hint or "")


def test_random_batches_are_the_shuffled_order_and_length_batches_group_lengths() -> None:
    rows = [Tokenized(list(range(length)), length, 1.0) for length in range(1, 65)]
    shuffled = rows[:]
    random.Random(3).shuffle(shuffled)
    plain = _batches(rows, 8, random.Random(3), grouped=False)
    assert plain == [shuffled[i : i + 8] for i in range(0, 64, 8)]
    grouped = _batches(rows, 8, random.Random(3), grouped=True)
    assert sorted(id(r) for b in grouped for r in b) == sorted(map(id, rows))  # each row once
    for batch in grouped:  # sorted within a window: a batch spans few lengths
        assert [len(r.ids) for r in batch] == sorted(len(r.ids) for r in batch)
    assert sum(map(_spread, grouped)) < sum(map(_spread, plain))


def _spread(batch: list[Tokenized]) -> int:
    return max(len(r.ids) for r in batch) - min(len(r.ids) for r in batch)


def test_the_constant_rate_stays_and_the_linear_one_warms_up_then_decays() -> None:
    constant = rate_factor("constant", 20)
    assert [constant(step) for step in range(20)] == [1.0] * 20
    linear = [rate_factor("linear", 20)(step) for step in range(20)]
    assert linear[0] < linear[1] == max(linear) == 1.0  # a 2-step warm-up
    assert linear[2:] == sorted(linear[2:], reverse=True) and linear[-1] < 0.1


@pytest.mark.parametrize(
    ("responses", "kind", "schedule"),
    [
        (("positive", "negative"), "classification", None),
        (("a long answer number {i}",), "generation", "constant"),
    ],
)
def test_the_manifest_records_the_epochs_schedule_and_batching_used(
    tiny_autopilot: Autopilot,
    tmp_path: Path,
    responses: tuple[str, ...],
    kind: str,
    schedule: str | None,
) -> None:
    config = AdapterConfig(min_steps=0, batch_size=8, rank=4, alpha=8, checkpoints=0,
                           schedule=schedule)  # fmt: skip
    with open_store(tmp_path / "store.db", embedder="hashing") as store:
        for i in range(8):
            for response in responses:
                store.add(Experience(task="t", situation=f"text {i} {response[:3]}",
                                     response=response.format(i=i)))  # fmt: skip
        steps: list[Any] = []
        adapted = adapt(tiny_autopilot, store, "default", "t", config,
                        library=AdapterLibrary(tmp_path / "adapters"),
                        progress=steps.append)  # fmt: skip
    m = adapted.manifest
    assert m.kind == kind
    used = (m.hyperparameters["epochs"], m.hyperparameters["schedule"])
    assert used == (EPOCHS[kind], schedule or SCHEDULES[kind])
    assert m.hyperparameters["batching"] == BATCHES[kind]
    batches = -(-m.train_examples // 8)
    assert steps[-1].steps == batches * EPOCHS[kind]  # no step floor here: the epochs decide
