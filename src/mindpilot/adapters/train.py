"""The training loop: LoRA (peft) on a copy of the frozen base; the base itself never changes.

Only the adapter's low-rank matrices get gradients. The loss is the cross-entropy of the
answer's tokens (the prompt is context, not something to learn), weighted per example by its
feedback. Deterministic for a seed on the CPU.
"""

from __future__ import annotations

import copy
import random
import resource
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from mindpilot.adapters.config import AdapterConfig
from mindpilot.adapters.data import Example
from mindpilot.autopilot.transformers_backend import peft_quietly
from mindpilot.errors import ValidationError

WARMUP_SHARE = 0.06  # of all steps, with the learning rate rising linearly from 0


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
    ids: list[int]  # prompt + answer
    answer_from: int  # index of the first answer token
    weight: float


@dataclass
class Trained:
    model: Any  # a peft PeftModel: the copy of the base with the adapter
    losses: list[float]
    steps: int
    stopped_early: bool
    wall_s: float
    peak_rss_mb: float
    skipped_long: int  # examples over max_tokens, left out


def tokenize(
    backend: Any, examples: Sequence[Example], config: AdapterConfig, *, end_answer: bool
) -> tuple[list[Tokenized], int]:
    """Prompt ids (the backend's chat template) + answer ids (+ the end-of-turn token when the
    model must learn to stop); examples longer than `config.max_tokens` are left out."""
    tokenizer = backend.tokenizer
    end = [tokenizer.eos_token_id] if end_answer and tokenizer.eos_token_id is not None else []
    done, skipped = [], 0
    for example in examples:
        prompt = backend.prompt_ids(list(example.messages))
        answer = tokenizer(example.target, add_special_tokens=False)["input_ids"] + end
        if len(prompt) + len(answer) > config.max_tokens:
            skipped += 1
            continue
        done.append(Tokenized(prompt + answer, len(prompt), example.weight))
    return done, skipped


def base_copy(backend: Any) -> torch.nn.Module:
    """A trainable-free copy of the bare base model: without the adapters the backend serves."""
    from peft import PeftModel

    clone = copy.deepcopy(backend.model)
    if isinstance(clone, PeftModel):
        clone = clone.unload()  # removes every LoRA layer, leaving the base weights
    return clone


def train(
    backend: Any,
    examples: Sequence[Example],
    config: AdapterConfig,
    *,
    end_answer: bool,
    progress: Callable[[Progress], None] | None = None,
) -> Trained:
    """Train a LoRA adapter on `examples`; the backend's own model is not touched."""
    from peft import LoraConfig, get_peft_model

    started = time.perf_counter()
    rows, skipped = tokenize(backend, examples, config, end_answer=end_answer)
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
        model = get_peft_model(base_copy(backend), lora)
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=config.learning_rate, weight_decay=0.0)
    batches_per_epoch = -(-len(rows) // config.batch_size)
    steps = batches_per_epoch * config.epochs
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, _warmup_then_decay(steps))
    pad = backend.tokenizer.pad_token_id or 0
    rng = random.Random(config.seed)
    losses: list[float] = []
    stopped = False
    model.train()
    with torch.enable_grad():
        for epoch in range(config.epochs):
            for batch in _batches(rows, config.batch_size, rng):
                loss = _step(model, batch, pad)
                loss.backward()
                optimizer.step()
                schedule.step()
                optimizer.zero_grad(set_to_none=True)
                losses.append(float(loss.detach()))
                elapsed = time.perf_counter() - started
                if progress is not None:
                    progress(Progress(len(losses), steps, epoch + 1, losses[-1], elapsed))
                if elapsed > config.max_minutes * 60:
                    stopped = True
                    break
            if stopped:
                break
    model.eval()
    return Trained(
        model=model,
        losses=losses,
        steps=len(losses),
        stopped_early=stopped,
        wall_s=time.perf_counter() - started,
        peak_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        skipped_long=skipped,
    )


def _batches(rows: list[Tokenized], size: int, rng: random.Random) -> list[list[Tokenized]]:
    """Shuffled batches of similar lengths (less padding): shuffle, sort within windows of
    a few batches, then shuffle the batches."""
    order = rows[:]
    rng.shuffle(order)
    window = size * 8
    chunks = []
    for start in range(0, len(order), window):
        part = sorted(order[start : start + window], key=lambda r: len(r.ids))
        chunks += [part[i : i + size] for i in range(0, len(part), size)]
    rng.shuffle(chunks)
    return chunks


def _step(model: Any, batch: list[Tokenized], pad: int) -> torch.Tensor:
    """The batch's loss: per example, the mean cross-entropy of its answer tokens; across
    examples, their feedback-weighted mean.

    Rows are left-padded so every answer ends at the last position, and the vocabulary
    projection runs only over the last K+1 positions (K: the longest answer): a long prompt
    then costs no (B, T, vocab) logits."""
    width = max(len(r.ids) for r in batch)
    answer = max(len(r.ids) - r.answer_from for r in batch)  # K
    ids = torch.full((len(batch), width), pad, dtype=torch.long)
    mask = torch.zeros((len(batch), width), dtype=torch.long)
    targets = torch.full((len(batch), width), -100, dtype=torch.long)  # -100: not learned
    for i, row in enumerate(batch):
        start = width - len(row.ids)
        ids[i, start:] = torch.tensor(row.ids)
        mask[i, start:] = 1
        targets[i, start + row.answer_from :] = torch.tensor(row.ids[row.answer_from :])
    positions = (mask.cumsum(1) - 1).clamp(min=0)  # left padding must not shift positions
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


def _warmup_then_decay(steps: int) -> Callable[[int], float]:
    warmup = max(1, int(steps * WARMUP_SHARE))

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        return max(0.0, (steps - step) / max(1, steps - warmup))

    return factor
