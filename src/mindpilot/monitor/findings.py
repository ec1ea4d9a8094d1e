"""What the data audit reports: one stored record, why it is flagged, and the fix."""

from __future__ import annotations

from dataclasses import dataclass

from mindpilot.mental_process.records import Record


@dataclass(frozen=True)
class Finding:
    """A stored record the audit flags, with the undoable command that fixes it."""

    record_id: str
    record_kind: str
    version: int
    kind: str  # "toxic", "stereotype", "feedback skew" or "contradiction"
    evidence: tuple[str, ...]
    text: str
    task: str | None
    fix: str  # the one command that removes it (`mindpilot memory undo` brings it back)


def finding(record: Record, namespace: str, kind: str, evidence: tuple[str, ...]) -> Finding:
    """A finding on `record` whose fix deletes it (undoable)."""
    return Finding(
        record.id, record.kind, record.version, kind, evidence, record.search_text,
        getattr(record, "task", None), f"mindpilot memory delete {record.id} --yes -n {namespace}",
    )  # fmt: skip
