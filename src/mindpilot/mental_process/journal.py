"""The journal: what the engine and its shells keep beside the records, in the same store.

Chat sessions with their turns (applications/chat.py), the audit log of every answer
(monitor/audit.py) and monitor runs (monitor/runs.py). Each store backend provides one
(`Store.journal()`): the SQLite store in its file, the PostgreSQL store in its database, so
the engine, the CLI and the HTTP server have sessions, the log, feedback and monitor runs on
either. The front classes above (`Sessions`, `AuditLog`, `RunLog`) validate their input and
say what is missing; a journal only reads and writes rows, every one scoped to a namespace.

The row types live here, below the layers that use them, so a backend never imports upward.
"""

from __future__ import annotations

import builtins
import json
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

from mindpilot.types import AdapterUse, Citation, Message, ToneUse, UsedRecord


@dataclass(frozen=True)
class ChatSession:
    """A conversation of one namespace, optionally bound to a task."""

    id: str  # "cs_" + 12 hex digits
    namespace: str
    task: str | None  # None: plain chat with the model, no Mental Process
    created_at: float  # unix seconds
    title: str = ""  # the first user message, shortened, unless given
    updated_at: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return dict(vars(self))


@dataclass(frozen=True)
class Turn:
    """One stored message of a session."""

    role: str
    content: str
    audit_id: str | None  # the audit entry of an assistant turn
    created_at: float

    @property
    def message(self) -> Message:
        return Message(self.role, self.content)  # type: ignore[arg-type]


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


@dataclass(frozen=True)
class AuditFilter:
    """What narrows a listing of the audit log (None: any); `carried` is whether the answer
    scored as carrying the tone asked."""

    task: str | None = None
    session_id: str | None = None
    tone: str | None = None
    carried: bool | None = None


@dataclass(frozen=True)
class StoredRun:
    """A monitor run as the journal keeps it: its keys, and the whole run as JSON
    (`MonitorRun.to_dict`), written in one statement."""

    id: str  # "mr_" + 12 hex digits
    namespace: str
    task: str | None
    created_at: float  # unix seconds
    result: str  # JSON


class Journal(ABC):
    """Rows of sessions, the audit log and monitor runs. Every call names its namespace, and
    nothing of another namespace is read or changed. A journal is a handle the caller closes;
    each write is one transaction (all of it or none)."""

    # ---- chat sessions ------------------------------------------------------------------------
    @abstractmethod
    def add_session(self, session: ChatSession) -> None: ...

    @abstractmethod
    def find_session(self, namespace: str, session_id: str) -> ChatSession | None: ...

    @abstractmethod
    def sessions(self, namespace: str, limit: int, offset: int) -> builtins.list[ChatSession]:
        """Most recently active first."""

    @abstractmethod
    def add_turn(self, namespace: str, session_id: str, turn: Turn, title: str) -> None:
        """Append a turn and set the session's title and `updated_at` (the turn's time)."""

    @abstractmethod
    def turns(self, namespace: str, session_id: str) -> builtins.list[Turn]:
        """Oldest first."""

    @abstractmethod
    def delete_session(self, namespace: str, session_id: str) -> None:
        """The session and its turns (its audit entries stay)."""

    # ---- the audit log ------------------------------------------------------------------------
    @abstractmethod
    def add_entry(self, entry: AuditEntry) -> None: ...

    @abstractmethod
    def find_entry(self, namespace: str, entry_id: str) -> AuditEntry | None: ...

    @abstractmethod
    def entries(
        self, namespace: str, where: AuditFilter, limit: int, offset: int
    ) -> builtins.list[AuditEntry]:
        """Newest first."""

    @abstractmethod
    def adherence(self, namespace: str, task: str | None) -> builtins.list[Adherence]:
        """Per task, tone and day (UTC) of the answers whose tone was measured, in that order."""

    @abstractmethod
    def link_experience(self, namespace: str, entry_id: str, experience_id: str) -> None:
        """Remember the experience feedback on the entry wrote."""

    # ---- monitor runs -------------------------------------------------------------------------
    @abstractmethod
    def add_run(self, run: StoredRun) -> None: ...

    @abstractmethod
    def runs(self, namespace: str, task: str | None, limit: int) -> builtins.list[StoredRun]:
        """Newest first; of `task` only if named."""

    # ---- all of it ---------------------------------------------------------------------------
    @abstractmethod
    def namespaces(self) -> builtins.list[str]:
        """Every namespace with a session, an audit entry or a monitor run, sorted (a namespace
        can have a journal and no records: plain chat; `memory migrate` copies both)."""

    # ---- lifetime -----------------------------------------------------------------------------
    @abstractmethod
    def close(self) -> None: ...

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# ---- the audit log's row, shared by the backends ----------------------------------------------
# Columns in the order `audit_entry` reads them; the list columns hold JSON text.
SESSION_COLUMNS = "id, namespace, task, created_at, title, updated_at"
# `Journal.namespaces`, the same SQL in both dialects
NAMESPACES = (
    "SELECT namespace FROM chat_sessions UNION SELECT namespace FROM audit_log"
    " UNION SELECT namespace FROM monitor_runs ORDER BY 1"
)


def scope(mark: str, namespace: str, **equal: object) -> tuple[str, builtins.list[object]]:
    """A WHERE clause and its parameters: `namespace = <mark>`, and `column = <mark>` for each
    given value that is not None (`mark`: the backend's placeholder, "?" or "%s")."""
    columns = {"namespace": namespace, **{k: v for k, v in equal.items() if v is not None}}
    return " AND ".join(f"{column} = {mark}" for column in columns), list(columns.values())


def audit_scope(mark: str, namespace: str, where: AuditFilter) -> tuple[str, builtins.list[object]]:
    """`scope` for a listing of the audit log narrowed by `where`."""
    return scope(
        mark, namespace, task=where.task, session_id=where.session_id, tone=where.tone,
        tone_carried=where.carried,
    )  # fmt: skip


AUDIT_COLUMNS = (
    "id, namespace, task, session_id, created_at, request, prompt, used, response, tone, model,"
    " backend, finish_reason, prompt_tokens, completion_tokens, memory_tokens, retrieval_s,"
    " compose_s, prompt_s, decode_s, experience_id, adapter, citations, abstained, answer_mode,"
    " tone_use, tone_carried"
)
AUDIT_NAMES = tuple(n.strip() for n in AUDIT_COLUMNS.split(","))


def audit_values(entry: AuditEntry) -> builtins.list[Any]:
    """The entry's column values in AUDIT_COLUMNS order (booleans as bool: SQLite keeps 0/1)."""
    row = entry.to_dict()
    for name in ("request", "prompt", "used", "adapter", "citations"):
        row[name] = json.dumps(row[name], ensure_ascii=False)
    row["tone_use"] = json.dumps(row["tone_use"]) if entry.tone_use else None
    row["tone_carried"] = entry.tone_carried
    return [row[n] for n in AUDIT_NAMES]


def audit_entry(row: tuple[Any, ...]) -> AuditEntry:
    """An entry from its AUDIT_COLUMNS values; NULLs of columns added later read as defaults."""
    data = dict(zip(AUDIT_NAMES, row, strict=True))
    data["request"] = _messages(data["request"])
    data["prompt"] = _messages(data["prompt"])
    data["used"] = tuple(UsedRecord(**u) for u in json.loads(data["used"]))
    adapter = json.loads(data["adapter"]) if data["adapter"] else None  # NULL before 0003
    data["adapter"] = AdapterUse(**adapter) if adapter else None
    # NULL before 0004_audit_answer (SQLite)
    data["citations"] = tuple(Citation(**c) for c in json.loads(data["citations"] or "[]"))
    data["abstained"] = bool(data["abstained"])
    data["answer_mode"] = data["answer_mode"] or "generate"
    data["tone_use"] = ToneUse(**json.loads(data["tone_use"])) if data["tone_use"] else None
    del data["tone_carried"]  # a property of tone_use
    return AuditEntry(**data)


def _messages_json(messages: tuple[Message, ...]) -> builtins.list[dict[str, str]]:
    return [{"role": m.role, "content": m.content} for m in messages]


def _messages(text: str) -> tuple[Message, ...]:
    return tuple(Message(m["role"], m["content"]) for m in json.loads(text))
