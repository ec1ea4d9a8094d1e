"""What the engine passes between its steps: a request after self-taking and composition, and
the provenance of the records it used."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from mindpilot.mental_process.records import Hit
from mindpilot.self_taking import TakenRecords
from mindpilot.types import Message, UsedRecord


@dataclass(frozen=True)
class ComposedRequest:
    """A request after self-taking and prompt composition, before generation."""

    namespace: str
    task: str | None
    messages: tuple[Message, ...]  # the composed prompt
    taken: TakenRecords | None
    compose_s: float
    memory_tokens: int
    request: tuple[Message, ...] = ()  # the messages as the caller gave them
    adapter: str | None = None  # the id of the task's active adapter, if it has one


def used_record(hit: Hit, stage: str = "prompt") -> UsedRecord:
    """The provenance entry of a search hit that went into the prompt."""
    record = hit.record
    return UsedRecord(
        record.id, record.kind, record.version, hit.similarity, hit.score, stage, hit.rerank_score
    )


def used_records(taken: TakenRecords | None, added: Sequence[Hit]) -> tuple[UsedRecord, ...]:
    """The provenance of a prompt: knowledge (then what was `added` while decoding),
    experiences, and the task's current emotion."""
    hops = set(taken.hop_ids) if taken else set()
    used = [
        used_record(h, "hop" if h.record.id in hops else "prompt")
        for h in (taken.knowledge if taken else ())
    ]
    used += [used_record(h, "decoding") for h in added]
    used += [used_record(h) for h in (taken.experiences if taken else ())]
    if taken and taken.emotion:  # not searched for: the task's current state, always used
        emotion = taken.emotion
        used.append(UsedRecord(emotion.id, emotion.kind, emotion.version, 1.0, 1.0))
    return tuple(used)
