"""Task adapters on the tiny random Llama: training, the frozen base, storage, serving,
activation and bad input. (The real model's gain is tested in test_adapters_e2e.py.)"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mindpilot.adapters import (
    AdapterConfig,
    AdapterLibrary,
    Progress,
    activate,
    adapt,
    delete,
    set_active,
)
from mindpilot.applications import classify
from mindpilot.autopilot import Autopilot
from mindpilot.engine import Engine
from mindpilot.errors import ConfigError, ConflictError, ModelLoadError, ValidationError
from mindpilot.mental_process import Experience, Store, TaskProfile, open_store
from mindpilot.monitor import AuditLog

FAST = AdapterConfig(epochs=3, learning_rate=5e-3, batch_size=8, rank=4, alpha=8)


@pytest.fixture
def store(tmp_path: Path) -> Any:
    with open_store(tmp_path / "store.db", embedder="hashing") as store:
        yield store


@pytest.fixture
def library(tmp_path: Path) -> AdapterLibrary:
    return AdapterLibrary(tmp_path / "adapters")


def add_labelled(store: Store, task: str = "sentiment", n: int = 12) -> list[Experience]:
    added = []
    for i in range(n):
        for text, label in (
            (f"a wonderful film {i}", "positive"),
            (f"a dull film {i}", "negative"),
        ):
            record = store.add(Experience(task=task, situation=text, response=label))
            assert isinstance(record, Experience)
            added.append(record)
    return added


def add_answers(store: Store, task: str, answer: str, n: int = 12) -> None:
    for i in range(n):
        store.add(Experience(task=task, situation=f"question number {i}?", response=answer))


def test_training_lowers_the_loss_and_the_manifest_says_everything(
    tiny_autopilot: Autopilot, store: Store, library: AdapterLibrary
) -> None:
    examples = add_labelled(store)
    store.add(Experience(task="sentiment", situation="bad one", response="positive", score=-1.0))
    steps: list[Progress] = []
    adapted = adapt(tiny_autopilot, store, "default", "sentiment", FAST, library=library,
                    progress=steps.append)  # fmt: skip
    losses = [p.loss for p in steps]
    assert len(losses) == steps[-1].steps and sum(losses[-3:]) < sum(losses[:3])
    m = adapted.manifest
    assert m.kind == "classification" and m.labels == ("negative", "positive")
    assert m.base_model == tiny_autopilot.model_name
    assert m.base_hash == tiny_autopilot.backend.base_weights_hash()
    # every usable example is named with its version; the negatively rated one is left out
    assert sorted(m.records) == sorted((e.id, e.version) for e in examples)
    assert m.metrics.name == "accuracy" and m.metrics.examples >= 2
    assert m.train_examples + m.metrics.examples == len(examples)
    assert m.hyperparameters["rank"] == 4 and m.wall_s > 0 and m.peak_rss_mb > 0
    saved = json.loads((adapted.folder / "manifest.json").read_text())
    assert saved["id"] == m.id and saved["metrics"]["before"] == m.metrics.before
    assert {"adapter_config.json", "adapter_model.safetensors"} <= {
        p.name for p in adapted.folder.iterdir()
    }
    assert library.list("default", "sentiment") == [m]


def test_the_base_weights_never_change(
    tiny_autopilot: Autopilot, store: Store, library: AdapterLibrary
) -> None:
    from mindpilot.autopilot.transformers_backend import base_weights_hash

    backend: Any = tiny_autopilot.backend
    before = base_weights_hash(backend.base)
    add_answers(store, "yes-task", "yes indeed")
    adapted = adapt(tiny_autopilot, store, "default", "yes-task", FAST, library=library)
    after_training = base_weights_hash(backend.base)
    set_active(store, "default", "yes-task", adapted.manifest.id)
    engine = Engine(tiny_autopilot, store, adapters=library)
    engine.respond("hello?", task="yes-task", max_new_tokens=4)
    engine.respond("hello?", max_new_tokens=4)  # the bare model, adapters loaded beside it
    assert before == after_training == base_weights_hash(backend.base)
    trainable = [name for name, p in backend.model.named_parameters() if p.requires_grad]
    assert trainable == []


def test_two_tasks_two_adapters_and_the_bare_model_each_get_their_own_output(
    tiny_model_dir: Path, store: Store, library: AdapterLibrary
) -> None:
    autopilot = Autopilot.load(str(tiny_model_dir))  # a fresh model: adapters load into it
    prompt = "question number 3?"
    bare_before = autopilot.generate(prompt, max_new_tokens=6).text
    add_answers(store, "alpha", "alpha beta gamma")
    add_answers(store, "omega", "zebra zebra")
    strong = AdapterConfig(epochs=8, learning_rate=2e-2, batch_size=4, rank=8, alpha=16)
    for task in ("alpha", "omega"):
        adapted = adapt(autopilot, store, "default", task, strong, library=library)
        set_active(store, "default", task, adapted.manifest.id)
    engine = Engine(autopilot, store, adapters=library)
    alpha = engine.respond(prompt, task="alpha", max_new_tokens=6)
    omega = engine.respond(prompt, task="omega", max_new_tokens=6)
    bare = engine.respond(prompt, max_new_tokens=6)
    assert alpha.text != omega.text
    assert "alpha" in alpha.text and "zebra" in omega.text
    assert bare.text == bare_before and bare.adapter is None
    assert alpha.adapter is not None and alpha.adapter.task == "alpha"
    assert omega.adapter is not None and omega.adapter.version == 1


def test_provenance_and_the_audit_log_name_the_adapter(
    tiny_autopilot: Autopilot, store: Store, library: AdapterLibrary
) -> None:
    add_answers(store, "named", "named answer")
    adapted = adapt(tiny_autopilot, store, "default", "named", FAST, library=library)
    set_active(store, "default", "named", adapted.manifest.id)
    engine = Engine(tiny_autopilot, store, AuditLog(store), adapters=library)
    response = engine.respond("hi?", task="named", max_new_tokens=2)
    assert response.adapter is not None and response.adapter.id == adapted.manifest.id
    assert engine.audit is not None
    entry = engine.audit.get("default", response.audit_id or "")
    assert entry.adapter == response.adapter
    assert entry.to_dict()["adapter"]["id"] == adapted.manifest.id


def test_classify_goes_through_the_active_adapter(
    tiny_autopilot: Autopilot, store: Store, library: AdapterLibrary
) -> None:
    add_labelled(store)
    adapted = adapt(tiny_autopilot, store, "default", "sentiment", FAST, activate=False,
                    library=library)  # fmt: skip
    engine = Engine(tiny_autopilot, store, adapters=library)
    without = classify(engine, "a wonderful film 3")
    assert without.adapter is None and without.used  # in-context examples instead
    set_active(store, "default", "sentiment", adapted.manifest.id)
    through = classify(engine, "a wonderful film 3")
    assert through.adapter is not None and through.adapter.id == adapted.manifest.id
    assert through.used == ()  # the adapter replaces the examples


def test_activation_is_a_profile_change_that_undo_reverts(
    tiny_autopilot: Autopilot, store: Store, library: AdapterLibrary
) -> None:
    store.put_task(TaskProfile(name="sentiment", personality="a critic"))
    add_labelled(store)
    adapted = adapt(tiny_autopilot, store, "default", "sentiment", FAST, activate=False,
                    library=library)  # fmt: skip
    assert store.get_task("default", "sentiment").adapter is None
    activate(store, library, "default", adapted.manifest.id)
    assert store.get_task("default", "sentiment").adapter == adapted.manifest.id
    with pytest.raises(ConflictError, match="deactivate it first"):
        delete(store, library, "default", adapted.manifest.id)
    store.undo("default")
    profile = store.get_task("default", "sentiment")
    assert profile.adapter is None and profile.personality == "a critic"
    delete(store, library, "default", adapted.manifest.id)
    assert library.list("default") == []


def test_the_same_seed_gives_the_same_adapter(
    tiny_autopilot: Autopilot, store: Store, library: AdapterLibrary
) -> None:
    add_labelled(store)
    first = adapt(tiny_autopilot, store, "default", "sentiment", FAST, library=library)
    second = adapt(tiny_autopilot, store, "default", "sentiment", FAST, library=library)
    weights = "adapter_model.safetensors"
    assert (first.folder / weights).read_bytes() == (second.folder / weights).read_bytes()
    assert (first.manifest.version, second.manifest.version) == (1, 2)


def test_an_interrupted_run_leaves_nothing(
    tiny_autopilot: Autopilot, store: Store, library: AdapterLibrary
) -> None:
    add_labelled(store)

    def interrupt(progress: Progress) -> None:
        if progress.step == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        adapt(tiny_autopilot, store, "default", "sentiment", FAST, library=library,
              progress=interrupt)  # fmt: skip
    leftovers = [p for p in library.root.rglob("*") if p.is_file()]
    assert leftovers == [] and library.list("default") == []
    assert store.list_tasks("default") == []  # nothing activated


def test_too_few_examples_say_how_many_there_are_and_are_needed(
    tiny_autopilot: Autopilot, store: Store, library: AdapterLibrary
) -> None:
    add_answers(store, "small", "ok", n=3)
    with pytest.raises(ValidationError, match=r"has 3 usable examples.*at least 8"):
        adapt(tiny_autopilot, store, "default", "small", FAST, library=library)
    with pytest.raises(ValidationError, match=r"'nothing' has 0 usable"):
        adapt(tiny_autopilot, store, "default", "nothing", FAST, library=library)
    assert list(library.root.rglob("*.json")) == []


def test_a_remote_backend_cannot_train_or_serve_adapters(store: Store) -> None:
    remote = Autopilot.load("some-model", backend="openai", base_url="http://127.0.0.1:9/v1")
    add_answers(store, "t", "ok")
    with pytest.raises(ConfigError, match="adapters need the local backend"):
        adapt(remote, store, "default", "t", FAST)


def test_a_damaged_or_foreign_adapter_is_refused_with_a_fix(
    tiny_autopilot: Autopilot, tiny_model_dir: Path, store: Store, library: AdapterLibrary
) -> None:
    add_answers(store, "t", "fine answer")
    adapted = adapt(tiny_autopilot, store, "default", "t", FAST, library=library)
    set_active(store, "default", "t", adapted.manifest.id)
    # trained on another base: a manifest whose weights hash is not this model's
    manifest_file = adapted.folder / "manifest.json"
    data = json.loads(manifest_file.read_text())
    manifest_file.write_text(json.dumps({**data, "base_hash": "0" * 64}))
    fresh = Engine(Autopilot.load(str(tiny_model_dir)), store, adapters=library)
    with pytest.raises(ConfigError, match="trained on another base model"):
        fresh.respond("hi", task="t", max_new_tokens=2)
    manifest_file.write_text(json.dumps(data))
    (adapted.folder / "adapter_model.safetensors").unlink()
    with pytest.raises(ModelLoadError, match=r"lacks adapter_model\.safetensors"):
        fresh.respond("hi", task="t", max_new_tokens=2)
    manifest_file.write_text("{not json")
    with pytest.raises(ValidationError, match=r"manifest .* is damaged"):
        library.list("default")


@pytest.mark.parametrize(
    ("field", "value"),
    [("rank", 0), ("epochs", 0), ("learning_rate", 2.0), ("dropout", -0.1), ("target_modules", ())],
)
def test_settings_out_of_range_are_clear_errors(field: str, value: object) -> None:
    with pytest.raises(ConfigError, match=field):
        AdapterConfig(**{field: value})  # type: ignore[arg-type]


def test_unknown_target_modules_are_named_before_training(
    tiny_autopilot: Autopilot, store: Store, library: AdapterLibrary
) -> None:
    add_labelled(store)
    config = AdapterConfig(target_modules=("q_proj", "qkv"))
    with pytest.raises(ConfigError, match=r"no linear layers named qkv.*choose among.*q_proj"):
        adapt(tiny_autopilot, store, "default", "sentiment", config, library=library)
