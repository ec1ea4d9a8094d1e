"""The training loop: LoRA (peft) on a copy of the frozen base; the base itself never changes.

Only the adapter's low-rank matrices get gradients. Generation: the loss is the cross-entropy
of the answer's tokens (the prompt is context, not something to learn). Classification: the
cross-entropy of the right label among the labels only, at the answer position (a "pair" loss
over the labels' first tokens: it spends no capacity on the rest of the vocabulary; on a dev
split at 1,024 examples it scored as the full-vocabulary loss did, 0.920 vs 0.915). Each
example is weighted by its feedback. The learning rate is constant or warms up and decays
(`config.schedule`, by the task's kind). Deterministic for a seed on the CPU.
"""

from __future__ import annotations

import random
import resource
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from mindpilot.adapters.config import AdapterConfig
from mindpilot.adapters.data import Example, label_continuations
from mindpilot.autopilot.prompt_tokens import encode_text
from mindpilot.autopilot.transformers_backend import peft_quietly
from mindpilot.errors import ConfigError, ValidationError

WARMUP_SHARE = 0.1  # "linear" schedule: of all steps, with the learning rate rising from 0


@dataclass(frozen=True)
class Progress:
    step: int
    steps: int
    epoch: int
    loss: float  # the latest step's mean loss
    elapsed_s: float

    @property
    def eta_s(self) -> float:
        return self.elapsed_s / self.step * (self.steps - self.step) if self.step else 0.0


@dataclass(frozen=True)
class Tokenized:
    ids: list[int]  # prompt + answer (classification: the prompt only)
    answer_from: int  # index of the first answer token
    weight: float
    gold: int = -1  # classification: the index of the right label among `choices`


@dataclass(frozen=True)
class Checkpoint:
    """The adapter after `step` steps, as the validation examples judged it."""

    step: int
    accuracy: float
    loss: float  # mean cross-entropy of the right label among the labels

    @property
    def rank(self) -> tuple[float, float]:
        return (self.accuracy, -self.loss)  # the loss breaks ties between equal accuracies


@dataclass
class Trained:
    model: Any  # a peft PeftModel: the copy of the base with the adapter
    losses: list[float]
    steps: int
    stopped_early: bool
    wall_s: float
    peak_rss_mb: float
    skipped_long: int  # examples over max_tokens, left out
    checkpoints: tuple[Checkpoint, ...] = ()  # classification: validated along the way
    kept_step: int = 0  # the step whose weights the adapter has (the best checkpoint's)


def label_choices(tokenizer: Any, labels: Sequence[str]) -> list[int] | None:
    """The first token of each label's continuation, or None when two labels share it (then
    the loss falls back to the labels' whole token sequences)."""
    firsts = [encode_text(tokenizer, c)[0] for c in labels]
    return firsts if len(set(firsts)) == len(firsts) else None


def tokenize(
    backend: Any,
    examples: Sequence[Example],
    config: AdapterConfig,
    *,
    end_answer: bool,
    labels: Sequence[str] = (),
    pair: bool = False,
) -> tuple[list[Tokenized], int]:
    """Prompt ids (the backend's chat template, or the plain classification prompt) + answer
    ids (+ the end-of-turn token when the model must learn to stop); examples longer than
    `config.max_tokens` are left out."""
    tokenizer = backend.tokenizer
    end = [tokenizer.eos_token_id] if end_answer and tokenizer.eos_token_id is not None else []
    done, skipped = [], 0
    for example in examples:
        if example.text is not None and pair:  # classification: the prompt alone
            prompt = encode_text(tokenizer, example.text)
            if len(prompt) + 1 > config.max_tokens:
                skipped += 1
                continue
            gold = list(labels).index(example.label or "")
            done.append(Tokenized(prompt, len(prompt), example.weight, gold))
            continue
        if example.text is not None:  # classification, labels that share a first token
            prompt = encode_text(tokenizer, example.text)
        else:
            prompt = backend.prompt_ids(list(example.messages))
        answer = encode_text(tokenizer, example.target) + end
        if len(prompt) + len(answer) > config.max_tokens:
            skipped += 1
            continue
        done.append(Tokenized(prompt + answer, len(prompt), example.weight))
    return done, skipped


def check_targets(model: torch.nn.Module, targets: Sequence[str]) -> None:
    """ConfigError unless the model has linear layers named like each of `targets`."""
    # a layer an adapter already wraps keeps its name (its `base_layer` is the Linear)
    linear = {n.rsplit(".", 1)[-1] for n, m in model.named_modules()
              if (isinstance(m, torch.nn.Linear) or hasattr(m, "base_layer"))
              and "lora_" not in n and not n.endswith("base_layer")}  # fmt: skip
    missing = [t for t in targets if t not in linear]
    if missing:
        raise ConfigError(
            f"the model has no linear layers named {', '.join(missing)}",
            hint=f"choose among: {', '.join(sorted(linear))}",
        )


def train(
    backend: Any,
    examples: Sequence[Example],
    config: AdapterConfig,
    *,
    end_answer: bool,
    labels: Sequence[str] = (),
    validation: Sequence[Example] = (),
    progress: Callable[[Progress], None] | None = None,
) -> Trained:
    """Train a LoRA adapter on `examples` (`labels`: a classification task's, in scoring
    order); the backend's own model is not touched. Classification: the adapter is checked
    on `validation` `config.checkpoints` times along the way, and keeps the weights of the
    best check (early stopping: the last steps can overfit a small set)."""
    from peft import LoraConfig, get_peft_model

    started = time.perf_counter()
    config = config.for_kind("classification" if labels else "generation")
    assert config.epochs is not None and config.schedule is not None  # for_kind filled them
    grouped = config.batching == "length"
    choices = label_choices(backend.tokenizer, label_continuations(labels)) if labels else None
    rows, skipped = tokenize(
        backend, examples, config, end_answer=end_answer, labels=labels, pair=choices is not None
    )
    if not rows:
        raise ValidationError(
            f"every example is longer than max_tokens={config.max_tokens}",
            hint="raise --max-tokens, or store shorter examples",
        )
    torch.manual_seed(config.seed)
    lora = LoraConfig(
        r=config.rank,
        lora_alpha=config.alpha,
        lora_dropout=config.dropout,
        target_modules=list(config.target_modules),
        task_type="CAUSAL_LM",
    )
    with peft_quietly():
        model = get_peft_model(backend.base_copy(), lora)
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=config.learning_rate, weight_decay=0.0)
    batches_per_epoch = -(-len(rows) // config.batch_size)
    # a few examples for a few epochs are too few steps to learn from: train at least min_steps
    steps = max(config.min_steps, batches_per_epoch * config.epochs)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, rate_factor(config.schedule, steps))
    pad = backend.tokenizer.pad_token_id or 0
    rng = random.Random(config.seed)
    checker = _Checker(backend, validation, config, labels, choices, steps)
    losses: list[float] = []
    stopped = False
    model.train()
    with torch.enable_grad():
        for batch in _schedule(rows, config.batch_size, steps, rng, grouped=grouped):
            loss = _accumulate(model, batch, pad, choices, config.micro_batch)
            optimizer.step()
            schedule.step()
            optimizer.zero_grad(set_to_none=True)
            losses.append(loss)
            elapsed = time.perf_counter() - started
            stopped = elapsed > config.max_minutes * 60 and len(losses) < steps
            checker.maybe_check(model, len(losses), last=stopped)
            if progress is not None:
                epoch = (len(losses) - 1) // batches_per_epoch + 1
                progress(Progress(len(losses), steps, epoch, losses[-1], elapsed))
            if stopped:
                break
    model.eval()
    kept = checker.restore_best(model) or len(losses)
    return Trained(
        model=model,
        losses=losses,
        steps=len(losses),
        stopped_early=stopped,
        wall_s=time.perf_counter() - started,
        peak_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        skipped_long=skipped,
        checkpoints=tuple(checker.checkpoints),
        kept_step=kept,
    )


class _Checker:
    """Validation checkpoints of a classification adapter during training: evenly spaced,
    the last at the last step; the best one's LoRA weights are kept in memory."""

    def __init__(
        self,
        backend: Any,
        validation: Sequence[Example],
        config: AdapterConfig,
        labels: Sequence[str],
        choices: list[int] | None,
        steps: int,
    ) -> None:
        rows: list[Tokenized] = []
        if choices is not None and validation and config.checkpoints > 0:
            rows, _ = tokenize(backend, validation, config, end_answer=False, labels=labels,
                               pair=True)  # fmt: skip
        self.rows, self.choices, self.micro = rows, choices or [], config.micro_batch
        self.pad = backend.tokenizer.pad_token_id or 0
        count = min(config.checkpoints, steps)
        self.at = {round(steps * (i + 1) / count) for i in range(count)} if rows else set()
        self.checkpoints: list[Checkpoint] = []
        self._best: tuple[Checkpoint, dict[str, torch.Tensor]] | None = None

    def maybe_check(self, model: Any, step: int, *, last: bool) -> None:
        if step not in self.at and not (last and self.rows):
            return
        model.eval()
        checkpoint = self._check(model, step)
        model.train()
        self.checkpoints.append(checkpoint)
        # on a tie the later checkpoint wins: it has seen more of the data
        if self._best is None or checkpoint.rank >= self._best[0].rank:
            weights = {n: p.detach().clone() for n, p in model.named_parameters()
                       if p.requires_grad}  # fmt: skip
            self._best = (checkpoint, weights)

    def restore_best(self, model: Any) -> int | None:
        """Put the best checkpoint's weights back; its step (None: no checkpoints)."""
        if self._best is None:
            return None
        checkpoint, weights = self._best
        with torch.no_grad():
            for name, parameter in model.named_parameters():
                if name in weights:
                    parameter.copy_(weights[name])
        return checkpoint.step

    def _check(self, model: Any, step: int) -> Checkpoint:
        right, loss = 0, 0.0
        with torch.inference_mode():
            for start in range(0, len(self.rows), self.micro):
                part = self.rows[start : start + self.micro]
                ids, mask, positions = _left_padded([r.ids for r in part], self.pad)
                out = model(input_ids=ids, attention_mask=mask, position_ids=positions,
                            logits_to_keep=1, use_cache=False)  # fmt: skip
                logits = out.logits[:, -1, self.choices].float()
                gold = torch.tensor([r.gold for r in part])
                right += int((logits.argmax(-1) == gold).sum())
                loss += float(torch.nn.functional.cross_entropy(logits, gold, reduction="sum"))
        return Checkpoint(step, right / len(self.rows), loss / len(self.rows))


def _schedule(
    rows: list[Tokenized], size: int, steps: int, rng: random.Random, *, grouped: bool
) -> Iterator[list[Tokenized]]:
    """`steps` batches: epoch after epoch, each shuffled anew."""
    done = 0
    while True:
        for batch in _batches(rows, size, rng, grouped=grouped):
            if done == steps:
                return
            done += 1
            yield batch


def _batches(
    rows: list[Tokenized], size: int, rng: random.Random, *, grouped: bool
) -> list[list[Tokenized]]:
    """Shuffled batches; `grouped`: of similar lengths (less padding): shuffle, sort within
    windows of a few batches, then shuffle the batches."""
    order = rows[:]
    rng.shuffle(order)
    if not grouped:
        return [order[i : i + size] for i in range(0, len(order), size)]
    window = size * 8
    chunks = []
    for start in range(0, len(order), window):
        part = sorted(order[start : start + window], key=lambda r: len(r.ids))
        chunks += [part[i : i + size] for i in range(0, len(part), size)]
    rng.shuffle(chunks)
    return chunks


def _accumulate(
    model: Any, batch: list[Tokenized], pad: int, choices: list[int] | None, micro: int
) -> float:
    """Gradients of the batch's weighted mean loss, computed `micro` examples at a time: the
    same gradient as one pass, with the activations of a micro-batch only (peak memory)."""
    total = sum(r.weight for r in batch)
    loss = 0.0
    for start in range(0, len(batch), micro):
        part = batch[start : start + micro]
        share = sum(r.weight for r in part) / total
        part_loss = _step(model, part, pad, choices) * share
        part_loss.backward()
        loss += float(part_loss.detach())
    return loss


def _step(model: Any, batch: list[Tokenized], pad: int, choices: list[int] | None) -> torch.Tensor:
    """The batch's loss: per example, the mean cross-entropy of its answer tokens; across
    examples, their feedback-weighted mean.

    Rows are left-padded so every answer ends at the last position, and the vocabulary
    projection runs only over the last K+1 positions (K: the longest answer): a long prompt
    then costs no (B, T, vocab) logits."""
    if choices is not None:
        return _label_step(model, batch, pad, choices)
    width = max(len(r.ids) for r in batch)
    answer = max(len(r.ids) - r.answer_from for r in batch)  # K
    ids, mask, positions = _left_padded([r.ids for r in batch], pad)
    targets = torch.full((len(batch), width), -100, dtype=torch.long)  # -100: not learned
    for i, row in enumerate(batch):
        start = width - len(row.ids)
        targets[i, start + row.answer_from :] = torch.tensor(row.ids[row.answer_from :])
    out = model(
        input_ids=ids,
        attention_mask=mask,
        position_ids=positions,
        logits_to_keep=answer + 1,
        use_cache=False,
    )
    # (B, K, V): the position before each answer token predicts it
    logits, gold = out.logits[:, :-1, :].float(), targets[:, width - answer :]
    per_token = torch.nn.functional.cross_entropy(
        logits.reshape(-1, logits.size(-1)), gold.reshape(-1), reduction="none"
    ).view(gold.shape)
    counted = (gold != -100).float()
    per_example = (per_token * counted).sum(1) / counted.sum(1).clamp(min=1)
    weights = torch.tensor([r.weight for r in batch])
    return (per_example * weights).sum() / weights.sum()


def _label_step(model: Any, batch: list[Tokenized], pad: int, choices: list[int]) -> torch.Tensor:
    """Classification: cross-entropy of the right label among the labels' first tokens, at
    the prompt's last position."""
    ids, mask, positions = _left_padded([r.ids for r in batch], pad)
    out = model(input_ids=ids, attention_mask=mask, position_ids=positions, logits_to_keep=1,
                use_cache=False)  # fmt: skip
    logits = out.logits[:, -1, choices].float()  # (B, labels)
    gold = torch.tensor([r.gold for r in batch])
    per_example = torch.nn.functional.cross_entropy(logits, gold, reduction="none")
    weights = torch.tensor([r.weight for r in batch])
    return (per_example * weights).sum() / weights.sum()


def _left_padded(
    rows: list[list[int]], pad: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(ids, attention mask, position ids), each (B, T): rows end at the last position, and
    positions count real tokens only, so padding shifts nothing."""
    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), pad, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, row in enumerate(rows):
        ids[i, width - len(row) :] = torch.tensor(row)
        mask[i, width - len(row) :] = 1
    return ids, mask, (mask.cumsum(1) - 1).clamp(min=0)


def rate_factor(schedule: str | None, steps: int) -> Callable[[int], float]:
    """The learning rate's factor at each step of `steps`: "constant" (1 throughout, as the
    issue's plain probe), or "linear" (a warm-up, then a linear decay to 0)."""
    return _constant if schedule == "constant" else _warmup_then_decay(steps)


def _constant(step: int) -> float:
    return 1.0


def _warmup_then_decay(steps: int) -> Callable[[int], float]:
    warmup = max(1, int(steps * WARMUP_SHARE))

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        return max(0.0, (steps - step) / max(1, steps - warmup))

    return factor
