"""The audit log: every generation through the engine, with what it was conditioned on.

One row per response in the store's SQLite file (table `audit_log`, migration
"0002_sessions_and_audit"): the caller's messages, the composed prompt, the Mental Process
records used (ids, kinds, versions, similarities), the answer, tone, model, token counts and
timings; since "0004_audit_answer", the answer's citations, whether the task abstained, and the
answer mode; since "0006_audit_tone", how the tone was applied and the answer's score on it
(`ToneUse`), with whether it carried the tone. Feedback on an entry becomes an `Experience` of
its task, so the Mental Process learns from it (`AuditLog.feedback`).

The engine only calls `record`; a store that is not SQLite has no audit log
(`AuditLog.for_store` returns None) and the engine works without one.
"""

from __future__ import annotations

import builtins
import json
import threading
import time
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mindpilot.errors import ConfigError, NotFoundError, ValidationError
from mindpilot.mental_process.records import Experience, check_namespace
from mindpilot.mental_process.sqlite import connect
from mindpilot.mental_process.store import Store
from mindpilot.types import AdapterUse, Citation, Message, ToneUse, UsedRecord

if TYPE_CHECKING:
    from mindpilot.types import Response

# Columns in the order `_entry` reads them.
COLUMNS = (
    "id, namespace, task, session_id, created_at, request, prompt, used, response, tone, model,"
    " backend, finish_reason, prompt_tokens, completion_tokens, memory_tokens, retrieval_s,"
    " compose_s, prompt_s, decode_s, experience_id, adapter, citations, abstained, answer_mode,"
    " tone_use, tone_carried"
)


@dataclass(frozen=True)
class AuditEntry:
    """One recorded generation. Times in seconds; `created_at` in unix seconds."""

    id: str  # "au_" + 12 hex digits
    namespace: str
    task: str | None
    session_id: str | None
    created_at: float
    request: tuple[Message, ...]  # the caller's messages
    prompt: tuple[Message, ...]  # the composed messages the model saw
    used: tuple[UsedRecord, ...]  # Mental Process records in the prompt, in prompt order
    response: str
    tone: str | None
    model: str
    backend: str
    finish_reason: str
    prompt_tokens: int
    completion_tokens: int
    memory_tokens: int  # prompt tokens the Mental Process added
    retrieval_s: float
    compose_s: float
    prompt_s: float  # prefill
    decode_s: float
    experience_id: str | None = None  # the experience that feedback on this entry wrote
    adapter: AdapterUse | None = None  # the task adapter applied to the base, if any
    citations: tuple[Citation, ...] = ()  # each sentence's (or the span's) supporting record
    abstained: bool = False  # the answer is the task's "I don't know" line
    answer_mode: str = "generate"  # "generate" or "extractive"
    tone_use: ToneUse | None = None  # the tone asked, its control and the answer's score

    @property
    def tone_carried(self) -> bool | None:
        """Whether the answer scored as carrying the tone asked (None: none, or unmeasured)."""
        return self.tone_use.carried if self.tone_use else None

    @property
    def question(self) -> str:
        """The last user message as the caller wrote it (before any knowledge was added)."""
        turns = [m.content for m in self.request or self.prompt if m.role == "user"]
        return turns[-1] if turns else ""

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able fields (for `--json` and the HTTP API)."""
        data = {name: getattr(self, name) for name in self.__dataclass_fields__}
        data["request"] = _messages_json(self.request)
        data["prompt"] = _messages_json(self.prompt)
        data["used"] = [vars(u) for u in self.used]
        data["adapter"] = vars(self.adapter) if self.adapter else None
        data["citations"] = [vars(c) for c in self.citations]
        data["tone_use"] = vars(self.tone_use) if self.tone_use else None
        return data


@dataclass(frozen=True)
class Adherence:
    """How often one task's answers carried the tone asked, on one day."""

    task: str | None
    tone: str
    day: str  # YYYY-MM-DD, UTC
    answers: int  # measured answers
    carried: int

    @property
    def rate(self) -> float:
        return self.carried / self.answers if self.answers else 0.0


class AuditLog:
    """The audit log kept in a SQLite store's file. Every read is scoped to one namespace."""

    def __init__(self, store: Store) -> None:
        path = store.sqlite_path
        if path is None:
            raise ConfigError(
                f"{type(store).__name__} keeps no SQLite file for an audit log",
                hint="use the embedded SQLite store, or run the engine without audit",
            )
        self.store = store  # feedback writes experiences through it
        self._lock = threading.Lock()
        self._conn = connect(path)

    @classmethod
    def for_store(cls, store: Store) -> AuditLog | None:
        """The store's audit log, or None when the backend cannot keep one."""
        return cls(store) if store.sqlite_path is not None else None

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
        row = entry.to_dict()
        for name in ("request", "prompt", "used", "adapter", "citations"):
            row[name] = json.dumps(row[name], ensure_ascii=False)
        row["tone_use"] = json.dumps(row["tone_use"]) if entry.tone_use else None
        row["abstained"] = int(entry.abstained)
        row["tone_carried"] = None if entry.tone_carried is None else int(entry.tone_carried)
        names = [n.strip() for n in COLUMNS.split(",")]
        with self._lock:
            self._conn.execute(
                f"INSERT INTO audit_log ({COLUMNS}) VALUES ({', '.join('?' * len(names))})",
                [row[n] for n in names],
            )
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
        where, params = ["namespace = ?"], [namespace]
        for column, value in (("task", task), ("session_id", session_id), ("tone", tone)):
            if value is not None:
                where.append(f"{column} = ?")
                params.append(value)
        if carried is not None:
            where.append(f"tone_carried = {int(carried)}")
        with self._lock:
            rows = self._conn.execute(
                f"SELECT {COLUMNS} FROM audit_log WHERE {' AND '.join(where)}"
                " ORDER BY seq DESC LIMIT ? OFFSET ?",
                (*params, limit, offset),
            ).fetchall()
        return [_entry(row) for row in rows]

    def tone_adherence(
        self, namespace: str, *, task: str | None = None
    ) -> builtins.list[Adherence]:
        """Per task, tone asked and day (UTC): answers measured and how many carried it."""
        check_namespace(namespace)
        where, params = "namespace = ? AND tone_carried IS NOT NULL", [namespace]
        if task is not None:
            where, params = where + " AND task = ?", [namespace, task]
        with self._lock:
            rows = self._conn.execute(
                "SELECT task, tone, date(created_at, 'unixepoch') AS day, count(*),"
                f" sum(tone_carried) FROM audit_log WHERE {where}"
                " GROUP BY task, tone, day ORDER BY task, tone, day",
                params,
            ).fetchall()
        return [Adherence(*row) for row in rows]

    def get(self, namespace: str, entry_id: str) -> AuditEntry:
        """One entry of the namespace. NotFoundError if it has none with that id."""
        check_namespace(namespace)
        with self._lock:
            row = self._conn.execute(
                f"SELECT {COLUMNS} FROM audit_log WHERE namespace = ? AND id = ?",
                (namespace, entry_id),
            ).fetchone()
        if row is None:
            raise NotFoundError(
                f"no audit entry {entry_id!r} in namespace {namespace!r}",
                hint="list entries with `mindpilot log list`",
            )
        return _entry(row)

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
        with self._lock:
            self._conn.execute(
                "UPDATE audit_log SET experience_id = ? WHERE namespace = ? AND id = ?",
                (stored.id, namespace, entry_id),
            )
        return stored  # type: ignore[return-value]

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> AuditLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _messages_json(messages: tuple[Message, ...]) -> builtins.list[dict[str, str]]:
    return [{"role": m.role, "content": m.content} for m in messages]


def _messages(text: str) -> tuple[Message, ...]:
    return tuple(Message(m["role"], m["content"]) for m in json.loads(text))


def _entry(row: tuple[Any, ...]) -> AuditEntry:
    names = [n.strip() for n in COLUMNS.split(",")]
    data = dict(zip(names, row, strict=True))
    data["request"] = _messages(data["request"])
    data["prompt"] = _messages(data["prompt"])
    data["used"] = tuple(UsedRecord(**u) for u in json.loads(data["used"]))
    adapter = json.loads(data["adapter"]) if data["adapter"] else None  # NULL before 0003
    data["adapter"] = AdapterUse(**adapter) if adapter else None
    # NULL before 0004_audit_answer
    data["citations"] = tuple(Citation(**c) for c in json.loads(data["citations"] or "[]"))
    data["abstained"] = bool(data["abstained"])
    data["answer_mode"] = data["answer_mode"] or "generate"
    data["tone_use"] = ToneUse(**json.loads(data["tone_use"])) if data["tone_use"] else None
    del data["tone_carried"]  # a property of tone_use
    return AuditEntry(**data)
