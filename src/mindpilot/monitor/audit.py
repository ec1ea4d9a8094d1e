"""The audit log: every generation through the engine, with what it was conditioned on.

One entry per response in the store's journal (`Store.journal()`: the SQLite file's table
`audit_log`, migration "0002_sessions_and_audit" and later; the PostgreSQL database's, migration
"0004_sessions_audit_and_monitor_runs"): the caller's messages, the composed prompt, the Mental
Process records used (ids, kinds, versions, similarities), the answer, tone, model, token counts
and timings, the answer's citations, whether the task abstained, the answer mode, and how the
tone was applied and the answer's score on it (`ToneUse`), with whether it carried the tone.
Feedback on an entry becomes an `Experience` of its task, so the Mental Process learns from it
(`AuditLog.feedback`).

The engine only calls `record`; an engine opened without audit (`audit=False`) has no log.
"""

from __future__ import annotations

import builtins
import time
import uuid
from typing import TYPE_CHECKING

from mindpilot.errors import NotFoundError, ValidationError
from mindpilot.mental_process.journal import Adherence, AuditEntry, AuditFilter
from mindpilot.mental_process.records import Experience, check_namespace
from mindpilot.mental_process.store import Store

if TYPE_CHECKING:
    from mindpilot.types import Response

__all__ = ["Adherence", "AuditEntry", "AuditLog"]  # the row types live in the journal


class AuditLog:
    """The audit log of a store (any backend). Every read is scoped to one namespace."""

    def __init__(self, store: Store) -> None:
        self.store = store  # feedback writes experiences through it
        self._journal = store.journal()

    def record(self, response: Response, session_id: str | None = None) -> AuditEntry:
        """Write one finished response; returns its entry."""
        generation = response.generation
        entry = AuditEntry(
            id=f"au_{uuid.uuid4().hex[:12]}", namespace=response.namespace, task=response.task,
            session_id=session_id, created_at=time.time(), request=response.request,
            prompt=response.prompt, used=response.used, response=response.text,
            tone=response.tone, model=generation.model, backend=generation.backend,
            finish_reason=generation.finish_reason,
            prompt_tokens=generation.usage.prompt_tokens,
            completion_tokens=generation.usage.completion_tokens,
            memory_tokens=response.memory_tokens, retrieval_s=response.retrieval_s,
            compose_s=response.compose_s, prompt_s=generation.timings.prompt_s,
            decode_s=generation.timings.decode_s, adapter=response.adapter,
            citations=response.citations, abstained=response.abstained,
            answer_mode=response.answer_mode, tone_use=response.tone_use,
        )  # fmt: skip
        self._journal.add_entry(entry)
        return entry

    def list(
        self,
        namespace: str,
        *,
        task: str | None = None,
        session_id: str | None = None,
        limit: int = 20,
        offset: int = 0,
        tone: str | None = None,
        carried: bool | None = None,
    ) -> builtins.list[AuditEntry]:
        """Entries of one namespace, newest first; `task`/`session_id`/`tone` (the state
        asked) narrow them, and `carried` to answers that did (True) or did not (False)
        score as carrying it."""
        check_namespace(namespace)
        if limit < 0 or offset < 0:
            raise ValidationError("limit and offset must be >= 0")
        where = AuditFilter(task=task, session_id=session_id, tone=tone, carried=carried)
        return self._journal.entries(namespace, where, limit, offset)

    def tone_adherence(
        self, namespace: str, *, task: str | None = None
    ) -> builtins.list[Adherence]:
        """Per task, tone asked and day (UTC): answers measured and how many carried it."""
        check_namespace(namespace)
        return self._journal.adherence(namespace, task)

    def get(self, namespace: str, entry_id: str) -> AuditEntry:
        """One entry of the namespace. NotFoundError if it has none with that id."""
        check_namespace(namespace)
        entry = self._journal.find_entry(namespace, entry_id)
        if entry is None:
            raise NotFoundError(
                f"no audit entry {entry_id!r} in namespace {namespace!r}",
                hint="list entries with `mindpilot log list`",
            )
        return entry

    def feedback(
        self, namespace: str, entry_id: str, good: bool, note: str = "", *, actor: str = "user"
    ) -> Experience:
        """Turn feedback on an answer into an experience of its task (score 1.0 or -1.0), so
        later requests on similar inputs take it as an example (or avoid it). Feedback again
        on the same entry updates that experience's score and note instead of adding another."""
        entry = self.get(namespace, entry_id)
        if entry.task is None:
            raise ValidationError(
                f"audit entry {entry_id!r} was answered without a task",
                hint="feedback becomes an experience of a task; ask with --task",
            )
        score = 1.0 if good else -1.0
        if entry.experience_id is not None:
            try:
                updated = self.store.update(
                    namespace, entry.experience_id, actor=actor, score=score, note=note
                )
                return updated  # type: ignore[return-value]
            except NotFoundError:  # the experience was deleted since: write a new one
                pass
        experience = Experience(
            namespace=namespace, task=entry.task, situation=entry.question or entry.response,
            response=entry.response, score=score, note=note,
        )  # fmt: skip
        stored = self.store.add(experience, actor=actor)
        self._journal.link_experience(namespace, entry_id, stored.id)
        return stored  # type: ignore[return-value]

    def close(self) -> None:
        self._journal.close()

    def __enter__(self) -> AuditLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
