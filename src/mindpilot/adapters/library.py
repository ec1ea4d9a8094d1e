"""Where adapters live: versioned folders under MINDPILOT_HOME, each with a manifest.

    $MINDPILOT_HOME/adapters/<namespace>/<task folder>/v<N>/
        adapter_config.json, adapter_model.safetensors   (peft's own files)
        manifest.json                                     (ours: see `Manifest`)

A folder appears only complete: training writes into a hidden sibling and renames it into
place, so an interrupted run or a full disk leaves no half-written adapter.
"""

from __future__ import annotations

import builtins
import dataclasses
import hashlib
import json
import os
import re
import shutil
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mindpilot import config
from mindpilot.errors import ConflictError, ModelLoadError, NotFoundError, ValidationError
from mindpilot.mental_process.records import check_namespace

MANIFEST = "manifest.json"
PEFT_FILES = ("adapter_config.json", "adapter_model.safetensors")
_UNSAFE = re.compile(r"[^\w.-]")


@dataclass(frozen=True)
class Metrics:
    """Validation before (the bare base) and after (base + adapter), on the same examples."""

    name: str  # "accuracy" (classification) or "token_f1" (generation)
    before: float
    after: float
    examples: int

    @property
    def improved(self) -> bool:
        return self.after > self.before


@dataclass(frozen=True)
class Manifest:
    """What an adapter is, what it was trained on and how well it did."""

    id: str  # "ad_" + 12 hex digits
    namespace: str
    task: str
    version: int
    kind: str  # "classification" or "generation"
    base_model: str
    base_hash: str  # SHA-256 of the frozen base's weights (Backend.base_weights_hash)
    records: tuple[tuple[str, int], ...]  # (record id, version) of every training example
    hyperparameters: dict[str, Any]
    metrics: Metrics
    labels: tuple[str, ...] = ()  # classification labels, in scoring order
    # classification: added to a label's log-probability before `classify` picks the likeliest
    # (chosen on the validation split: `evaluate.calibrate`); a label not named gets 0
    label_offsets: dict[str, float] = field(default_factory=dict)
    train_examples: int = 0
    wall_s: float = 0.0
    peak_rss_mb: float = 0.0
    stopped_early: bool = False  # max_minutes ran out before the last epoch ended
    kept_step: int = 0  # the training step whose weights were kept (the best validated)
    # classification: (step, validation accuracy, validation loss) of each check in training
    checkpoints: tuple[tuple[int, float, float], ...] = ()
    created_at: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["records"] = [list(r) for r in self.records]
        data["labels"] = list(self.labels)
        data["checkpoints"] = [list(c) for c in self.checkpoints]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Manifest:
        known = {f.name for f in dataclasses.fields(cls)}
        fields = {k: v for k, v in data.items() if k in known}
        # keys from a newer mindpilot are kept, not refused (like peft's configs)
        fields["extra"] = {**data.get("extra", {}), **{k: data[k] for k in set(data) - known}}
        fields["metrics"] = Metrics(**fields["metrics"])
        fields["records"] = tuple((str(i), int(v)) for i, v in fields["records"])
        fields["labels"] = tuple(fields.get("labels", ()))
        fields["label_offsets"] = {
            str(k): float(v) for k, v in fields.get("label_offsets", {}).items()
        }
        fields["checkpoints"] = tuple(
            (int(step), float(acc), float(loss))
            for step, acc, loss in fields.get("checkpoints", ())
        )
        return cls(**fields)


class AdapterLibrary:
    """The adapters of one installation (default: MINDPILOT_HOME/adapters)."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = root if root is not None else config.home() / "adapters"

    def folder(self, manifest: Manifest) -> Path:
        return self._task_folder(manifest.namespace, manifest.task) / f"v{manifest.version}"

    def list(self, namespace: str, task: str | None = None) -> builtins.list[Manifest]:
        """Adapters of a namespace (of one task), oldest version first."""
        check_namespace(namespace)
        base = self.root / _safe(namespace)
        folders = [self._task_folder(namespace, task)] if task is not None else _dirs(base)
        found = []
        for task_folder in folders:
            for version in _dirs(task_folder):
                if (version / MANIFEST).is_file() and not version.name.startswith("."):
                    found.append(self._read(version))
        return sorted(found, key=lambda m: (m.task, m.version))

    def get(self, namespace: str, adapter_id: str) -> Manifest:
        """NotFoundError unless the namespace has an adapter with this id."""
        for manifest in self.list(namespace):
            if manifest.id == adapter_id:
                return manifest
        raise NotFoundError(
            f"no adapter {adapter_id!r} in namespace {namespace!r}",
            hint="list them with `mindpilot adapters list`",
        )

    def find(self, namespace: str, ref: str) -> Manifest:
        """An adapter by id, or by task name: the task's newest adapter."""
        check_namespace(namespace)
        manifests = self.list(namespace)
        for manifest in manifests:
            if manifest.id == ref:
                return manifest
        of_task = [m for m in manifests if m.task == ref]
        if of_task:
            return of_task[-1]
        raise NotFoundError(
            f"no adapter {ref!r} in namespace {namespace!r} (neither an id nor a task with one)",
            hint="list them with `mindpilot adapters list`; train one with `mindpilot adapt TASK`",
        )

    def next_version(self, namespace: str, task: str) -> int:
        versions = [m.version for m in self.list(namespace, task)]
        return max(versions, default=0) + 1

    def new_id(self) -> str:
        return f"ad_{uuid.uuid4().hex[:12]}"

    def staging(self, namespace: str, task: str) -> Path:
        """A fresh hidden folder to write an adapter into before `publish`."""
        folder = self._task_folder(namespace, task) / f".tmp-{uuid.uuid4().hex[:8]}"
        folder.mkdir(parents=True)
        return folder

    def publish(self, staging: Path, manifest: Manifest) -> Path:
        """Write the manifest into `staging` and move it into place as one rename."""
        (staging / MANIFEST).write_text(json.dumps(manifest.to_dict(), indent=2) + "\n")
        target = self.folder(manifest)
        if target.exists():
            raise ConflictError(f"adapter version {target} exists already")
        os.replace(staging, target)
        return target

    def delete(self, manifest: Manifest) -> None:
        shutil.rmtree(self.folder(manifest))

    def checked_folder(self, manifest: Manifest) -> Path:
        """The adapter's folder, with the files peft needs (ModelLoadError if damaged)."""
        folder = self.folder(manifest)
        missing = [name for name in PEFT_FILES if not (folder / name).is_file()]
        if missing:
            raise ModelLoadError(
                f"adapter {manifest.id} in {folder} lacks {', '.join(missing)}",
                hint=f"delete it (`mindpilot adapters delete {manifest.id}`) and train again",
            )
        return folder

    def _task_folder(self, namespace: str, task: str) -> Path:
        check_namespace(namespace)
        return self.root / _safe(namespace) / _safe(task)

    def _read(self, folder: Path) -> Manifest:
        try:
            return Manifest.from_dict(json.loads((folder / MANIFEST).read_text()))
        except (OSError, ValueError, KeyError, TypeError) as err:
            raise ValidationError(
                f"the adapter manifest {folder / MANIFEST} is damaged: {err}",
                hint=f"remove the folder {folder}, then train the adapter again",
            ) from None


def _safe(name: str) -> str:
    """A folder name for a namespace or task: readable, and distinct for distinct names."""
    cleaned = _UNSAFE.sub("_", name)
    if cleaned == name and not name.startswith("."):
        return name
    return f"{cleaned.lstrip('.')}-{hashlib.sha256(name.encode()).hexdigest()[:8]}"


def _dirs(folder: Path) -> builtins.list[Path]:
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
