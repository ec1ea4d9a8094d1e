"""`adapt`: train a task's adapter from its Mental Process, validate it, keep it, and activate
it only when it beats the bare base on held-out examples; `attach`: load one into a backend
for serving, after checking it was trained on that very base."""

from __future__ import annotations

import gc
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mindpilot.adapters import evaluate
from mindpilot.adapters.config import AdapterConfig
from mindpilot.adapters.data import TrainingSet, training_set
from mindpilot.adapters.library import AdapterLibrary, Manifest, Metrics
from mindpilot.adapters.manage import set_active
from mindpilot.adapters.train import Progress, check_targets, train
from mindpilot.errors import ConfigError, MindpilotError, ValidationError
from mindpilot.mental_process.store import Store

ACTOR = "adapt"


@dataclass(frozen=True)
class Adapted:
    """The outcome of one `adapt` run."""

    manifest: Manifest
    activated: bool
    folder: Any  # Path of the saved adapter

    @property
    def verdict(self) -> str:
        m = self.manifest.metrics
        if self.activated:
            return f"activated: {m.name} {m.before:.3f} -> {m.after:.3f} on {m.examples} held out"
        if m.improved:
            return f"kept, not activated (as asked): {m.name} {m.before:.3f} -> {m.after:.3f}"
        return (
            f"kept but NOT activated: {m.name} {m.after:.3f} with the adapter is not better than "
            f"{m.before:.3f} without it on {m.examples} held-out examples"
        )


def adapt(
    autopilot: Any,
    store: Store,
    namespace: str,
    task: str,
    config: AdapterConfig | None = None,
    *,
    labels: tuple[str, ...] | None = None,
    activate: bool = True,
    library: AdapterLibrary | None = None,
    progress: Callable[[Progress], None] | None = None,
    actor: str = ACTOR,
) -> Adapted:
    """Train, validate, save; activate when better than no adapter (and `activate`)."""
    config = config or AdapterConfig()
    library = library or AdapterLibrary()
    backend = autopilot.backend
    if not backend.supports_adapters:
        raise backend.no_adapters_error()
    check_targets(backend.base, config.target_modules)
    data = training_set(store, namespace, task, config, backend.count_text, labels)
    config = config.for_kind(data.kind)  # the manifest records the epochs and schedule used
    before, _ = _score(backend, data, adapter=None)
    adapter_id = library.new_id()
    staging = library.staging(namespace, task)
    try:
        trained = train(
            backend, data.train, config, end_answer=data.kind == "generation",
            labels=data.labels, validation=data.validation, progress=progress,
        )  # fmt: skip
        trained.model.save_pretrained(str(staging))
        del trained.model  # the copy of the base: free it before the served model grows
        gc.collect()
        backend.load_adapter(adapter_id, staging)
        after, offsets = _score(backend, data, adapter=adapter_id)
        manifest = Manifest(
            id=adapter_id, namespace=namespace, task=task,
            version=library.next_version(namespace, task), kind=data.kind,
            base_model=backend.model_name, base_hash=backend.base_weights_hash(),
            records=data.records, hyperparameters=config.to_dict(),
            metrics=Metrics(_metric_name(data), before, after, len(data.validation)),
            labels=data.labels, label_offsets=offsets,
            train_examples=len(data.train) - trained.skipped_long,
            wall_s=trained.wall_s, peak_rss_mb=trained.peak_rss_mb,
            stopped_early=trained.stopped_early, kept_step=trained.kept_step,
            checkpoints=tuple((c.step, c.accuracy, c.loss) for c in trained.checkpoints),
            created_at=time.time(),
        )  # fmt: skip
        folder = library.publish(staging, manifest)
    except BaseException as err:  # Ctrl-C and a full disk too: no half-written adapter stays
        shutil.rmtree(staging, ignore_errors=True)
        if isinstance(err, OSError):
            raise MindpilotError(
                f"could not write the adapter: {err}",
                hint="free some disk space under MINDPILOT_HOME and run `mindpilot adapt` again",
            ) from err
        raise
    activated = activate and manifest.metrics.improved
    if activated:
        set_active(store, namespace, task, manifest.id, actor=actor)
    return Adapted(manifest, activated, folder)


def attach(backend: Any, library: AdapterLibrary, manifest: Manifest) -> str:
    """Load the adapter into the backend (once) after checking it was trained on this very
    base; returns the name requests use (`GenerationConfig.adapter`)."""
    if not backend.supports_adapters:
        raise backend.no_adapters_error()
    if manifest.id in backend.adapter_names():
        return manifest.id
    if manifest.base_hash != backend.base_weights_hash():
        raise ConfigError(
            f"adapter {manifest.id} was trained on another base model ({manifest.base_model}, "
            f"weights {manifest.base_hash[:12]}), not on {backend.model_name}",
            hint=f"load {manifest.base_model}, or deactivate the adapter "
            f"(`mindpilot adapters deactivate {manifest.task}`) and train one on this model",
        )
    backend.load_adapter(manifest.id, library.checked_folder(manifest))
    return manifest.id


def _score(
    backend: Any, data: TrainingSet, *, adapter: str | None
) -> tuple[float, dict[str, float]]:
    """The validation metric, and (with an adapter, classification) the label offsets chosen
    on the same examples, already applied to it: what `classify` will do."""
    if data.kind != "classification":
        return evaluate.token_f1_score(backend, data.validation, adapter), {}
    scores = evaluate.label_scores(backend, data.validation, data.labels, adapter)
    offsets = evaluate.calibrate(scores, data.validation, data.labels) if adapter else {}
    return evaluate.accuracy(scores, data.validation, data.labels, offsets), offsets


def _metric_name(data: TrainingSet) -> str:
    return "accuracy" if data.kind == "classification" else "token_f1"


def check_labels(labels: tuple[str, ...] | None) -> tuple[str, ...] | None:
    """Labels given by a caller: at least two, distinct, non-empty."""
    if labels is None:
        return None
    cleaned = tuple(label.strip() for label in labels)
    if len(set(cleaned)) < 2 or not all(cleaned):
        raise ValidationError("give at least two distinct, non-empty labels")
    return cleaned
