"""Task adapters at the HTTP edge: the training request in, manifests and jobs out.

The request's settings are `AdapterConfig`'s, by the same names and with its defaults (read
from it, not copied); pydantic checks only their types (-> 422), and `AdapterConfig` itself
checks the ranges when the route builds it (ConfigError -> 400), before any job starts.
Manifests mirror `Manifest.to_dict()`, the shape of manifest.json and of
`mindpilot adapters list --json`, plus `active`.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, Strict

from mindpilot.adapters import Adapted, AdapterConfig, Listed, Manifest, Progress
from mindpilot.adapters.adapt import check_labels
from mindpilot.adapters.data import MAX_LABELS
from mindpilot.server.jobs import Job, JobState
from mindpilot.server.memory_schemas import Name

_DEFAULTS = AdapterConfig()
MAX_TARGETS = 64  # module names in target_modules

Whole = Annotated[int, Strict()]  # 3, not 3.0, "3" or true
Number = Annotated[float, Strict(), Field(allow_inf_nan=False)]  # ints are fine numbers


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


# ---- requests ---------------------------------------------------------------------------------
class TrainIn(_In):
    """Settings of one training run (`mindpilot adapt`'s options); each left out takes its
    default. Ranges are checked when the job is asked for: a bad value is a 400 naming it."""

    rank: Whole = Field(_DEFAULTS.rank, description="LoRA rank r: the size of the update.")
    alpha: Whole = Field(_DEFAULTS.alpha, description="LoRA scaling (update * alpha / rank).")
    dropout: Number = Field(_DEFAULTS.dropout, description="LoRA dropout on the input.")
    epochs: Whole | None = Field(
        _DEFAULTS.epochs,
        description="Passes over the training examples (null: the task kind's, 3).",
    )
    min_steps: Whole = Field(
        _DEFAULTS.min_steps, description="At least this many steps, even if the epochs are fewer."
    )
    checkpoints: Whole = Field(
        _DEFAULTS.checkpoints,
        description="Classification: validations during training, the best one's weights "
        "kept (0: the last step's).",
    )
    max_minutes: Number = Field(
        _DEFAULTS.max_minutes, description="Stop training after this long (still validated)."
    )
    learning_rate: Number = Field(_DEFAULTS.learning_rate, description="AdamW's peak rate.")
    schedule: str | None = Field(
        _DEFAULTS.schedule,
        description='"constant", or "linear" (a 10% warm-up, then a decay to 0); null: the '
        "task kind's (linear).",
    )
    batching: str | None = Field(
        _DEFAULTS.batching,
        description='"random" (shuffled), or "length" (similar lengths batched together: less '
        "padding); null: the task kind's (length).",
    )
    batch_size: Whole = Field(_DEFAULTS.batch_size, description="Examples per step.")
    micro_batch: Whole = Field(
        _DEFAULTS.micro_batch, description="Examples per forward pass (peak memory)."
    )
    max_examples: Whole = Field(
        _DEFAULTS.max_examples, description="Use at most this many examples, best-rated first."
    )
    validation_share: Number = Field(
        _DEFAULTS.validation_share, description="Held-out share (stratified by label)."
    )
    max_validation: Whole = Field(_DEFAULTS.max_validation, description="Held-out examples, most.")
    max_tokens: Whole = Field(
        _DEFAULTS.max_tokens, description="Longer prompt + answer pairs are left out."
    )
    seed: Whole = Field(_DEFAULTS.seed, description="The same seed and data, the same adapter.")
    target_modules: list[Name] = Field(
        default_factory=lambda: list(_DEFAULTS.target_modules),
        max_length=MAX_TARGETS,
        description="Module names to adapt (default: every linear layer of a block).",
    )
    labels: list[Name] | None = Field(
        None,
        max_length=MAX_LABELS,
        description="Labels of a classification task (default: detected from the responses).",
    )
    activate: Annotated[bool, Strict()] = Field(
        True, description="Activate the adapter if it beats the bare base on held-out examples."
    )

    def config(self) -> AdapterConfig:
        """The run's AdapterConfig: ConfigError (400) for a value out of range."""
        fields = self.model_dump(exclude={"labels", "activate"})
        fields["target_modules"] = tuple(fields["target_modules"])
        return AdapterConfig(**fields)

    def checked_labels(self) -> tuple[str, ...] | None:
        """The labels, if given: at least two, distinct (ValidationError, 422)."""
        return check_labels(tuple(self.labels)) if self.labels is not None else None


# ---- responses --------------------------------------------------------------------------------
class MetricsOut(_Out):
    name: str = Field(description='"accuracy" (classification) or "token_f1" (generation).')
    before: float = Field(description="On the held-out examples, with the bare base.")
    after: float = Field(description="On the same examples, with the adapter.")
    examples: int


class ManifestOut(_Out):
    """What an adapter is, what it was trained on and how well it did."""

    id: str
    namespace: str
    task: str
    version: int
    kind: str = Field(description='"classification" or "generation".')
    base_model: str
    base_hash: str = Field(description="SHA-256 of the frozen base's weights.")
    records: list[tuple[str, int]] = Field(description="(id, version) of every example.")
    hyperparameters: dict[str, Any]
    metrics: MetricsOut
    labels: list[str]
    label_offsets: dict[str, float] = Field(
        description="Added to a label's log-probability before classify picks (calibration)."
    )
    train_examples: int
    wall_s: float
    peak_rss_mb: float
    stopped_early: bool = Field(description="max_minutes ran out before the last epoch.")
    kept_step: int = Field(description="The step whose weights were kept (best validated).")
    checkpoints: list[tuple[int, float, float]] = Field(
        description="(step, validation accuracy, validation loss) of each check in training."
    )
    created_at: float = Field(description="Unix seconds.")
    extra: dict[str, Any]


class AdapterOut(ManifestOut):
    active: bool = Field(description="Some task of the namespace answers with it.")


class AdapterList(_Out):
    data: list[AdapterOut]


class JobResultOut(_Out):
    adapter: ManifestOut
    activated: bool
    verdict: str = Field(description="Why it was activated or not, with the figures.")


class JobErrorOut(_Out):
    message: str
    hint: str | None


class JobOut(_Out):
    """A training job; poll `GET /v1/adapters/jobs/{id}` until `state` is done or failed."""

    id: str
    namespace: str
    task: str
    state: JobState
    step: int = Field(description="Training steps done (0 until training starts).")
    steps: int
    loss: float | None = Field(
        description="The latest step's training loss; null before the first step, and when it "
        "is not a finite number (training diverged: try a lower learning_rate)."
    )
    eta_s: float | None = Field(description="Seconds left in the training loop (estimate).")
    created_at: float
    started_at: float | None
    finished_at: float | None
    result: JobResultOut | None
    error: JobErrorOut | None


class JobList(_Out):
    data: list[JobOut]


class TaskAdapterOut(_Out):
    task: str
    adapter: str | None = Field(description="The active adapter's id; null: the bare base.")


class AdapterDeletedOut(_Out):
    deleted: str


# ---- conversions ------------------------------------------------------------------------------
def manifest_out(manifest: Manifest) -> ManifestOut:
    return ManifestOut(**manifest.to_dict())


def adapter_out(listed: Listed) -> AdapterOut:
    return AdapterOut(**listed.manifest.to_dict(), active=listed.active)


def job_out(job: Job[Progress, Adapted]) -> JobOut:
    progress = job.progress
    eta = None if progress is None or job.state == "failed" else progress.eta_s
    return JobOut(
        id=job.id, namespace=job.namespace, task=job.task or "", state=job.state,
        step=progress.step if progress else 0, steps=progress.steps if progress else 0,
        loss=_finite(progress.loss if progress else None),
        eta_s=0.0 if job.state == "done" else eta, created_at=job.created_at,
        started_at=job.started_at, finished_at=job.finished_at,
        result=None if job.result is None else _result_out(job.result),
        error=None if job.error is None else JobErrorOut(**dataclasses.asdict(job.error)),
    )  # fmt: skip


def _finite(value: float | None) -> float | None:
    """JSON has no NaN or infinity (and the server's encoder refuses them: a 500)."""
    return value if value is not None and math.isfinite(value) else None


def _result_out(adapted: Adapted) -> JobResultOut:
    return JobResultOut(
        adapter=manifest_out(adapted.manifest), activated=adapted.activated, verdict=adapted.verdict
    )
