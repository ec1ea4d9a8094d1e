"""Early stopping of a classification adapter: validated `checkpoints` times in training, it
keeps the weights of the best check (tiny random Llama)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mindpilot.adapters import AdapterConfig, AdapterLibrary, adapt
from mindpilot.adapters.data import training_set
from mindpilot.adapters.train import _Checker, train
from mindpilot.autopilot import Autopilot
from mindpilot.mental_process import Experience, Store, open_store

CONFIG = AdapterConfig(epochs=4, min_steps=0, learning_rate=2e-2, batch_size=4, rank=4, alpha=8,
                       checkpoints=3)  # fmt: skip


@pytest.fixture
def store(tmp_path: Path) -> Any:
    with open_store(tmp_path / "store.db", embedder="hashing") as store:
        for i in range(10):
            store.add(Experience(task="sentiment", situation=f"a wonderful film {i}",
                                 response="positive"))  # fmt: skip
            store.add(Experience(task="sentiment", situation=f"a dull film {i}",
                                 response="negative"))  # fmt: skip
        yield store


def test_the_adapter_keeps_the_best_checkpoint_s_weights(
    tiny_autopilot: Autopilot, store: Store
) -> None:
    backend: Any = tiny_autopilot.backend
    data = training_set(store, "default", "sentiment", CONFIG, backend.count_text)
    trained = train(backend, data.train, CONFIG, end_answer=False, labels=data.labels,
                    validation=data.validation)  # fmt: skip
    checks = trained.checkpoints
    assert [c.step for c in checks] == [round(trained.steps * k / 3) for k in (1, 2, 3)]
    best = max(reversed(checks), key=lambda c: c.rank)  # the later one on a tie
    assert trained.kept_step == best.step
    # the model holds that checkpoint's weights: its validation figures again
    again = _Checker(backend, data.validation, CONFIG, data.labels, _choices(backend), 3)
    check = again._check(trained.model, 0)
    assert check.accuracy == best.accuracy
    assert check.loss == pytest.approx(best.loss, abs=1e-5)


def test_no_checkpoints_keep_the_last_step(tiny_autopilot: Autopilot, store: Store) -> None:
    backend: Any = tiny_autopilot.backend
    config = AdapterConfig(epochs=2, min_steps=0, batch_size=4, rank=4, alpha=8, checkpoints=0)
    data = training_set(store, "default", "sentiment", config, backend.count_text)
    trained = train(backend, data.train, config, end_answer=False, labels=data.labels,
                    validation=data.validation)  # fmt: skip
    assert trained.checkpoints == () and trained.kept_step == trained.steps


def test_the_manifest_names_the_checkpoints_and_the_kept_step(
    tiny_autopilot: Autopilot, store: Store, tmp_path: Path
) -> None:
    library = AdapterLibrary(tmp_path / "adapters")
    adapted = adapt(tiny_autopilot, store, "default", "sentiment", CONFIG, library=library)
    m = adapted.manifest
    assert len(m.checkpoints) == 3
    assert m.kept_step in [step for step, _, _ in m.checkpoints]
    assert library.get("default", m.id) == m  # read back from manifest.json, the same


def _choices(backend: Any) -> list[int]:
    from mindpilot.adapters.data import label_continuations
    from mindpilot.adapters.train import label_choices

    choices = label_choices(backend.tokenizer, label_continuations(("negative", "positive")))
    assert choices is not None
    return choices
