"""The Mental Process's typed records: knowledge, emotions, experiences, task profiles.

Each kind has its own update rule (enforced by the store):
- `Knowledge`: a newer record may supersede an older one; the old one stays (history) but is
  no longer retrieved.
- `Emotion`: the latest per task wins; earlier ones are superseded, kept for history.
- `Experience`: append-only; only its feedback (`score`, `note`) may change later.

Conventions: timestamps are float unix seconds (UTC); `version` is 0 for a record not yet
stored and counts edits of one id from 1; `id` is "" until the store assigns one ("kn_",
"em_" or "ex_" + 12 random hex digits, unique across processes).
"""

from __future__ import annotations

import dataclasses
import math
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, TypeAlias, get_args

from mindpilot.errors import ValidationError

Kind = Literal["knowledge", "emotion", "experience"]
KINDS: tuple[Kind, ...] = get_args(Kind)
Op = Literal["add", "update", "supersede", "delete", "import", "undo"]

_NAMESPACE_RE = re.compile(r"^[\w.@:+-]{1,128}$")
_ID_RE = re.compile(r"^[\w.:-]{1,64}$")
_PREFIX: dict[str, str] = {"knowledge": "kn", "emotion": "em", "experience": "ex"}


def new_id(kind: Kind) -> str:
    """A fresh record id, e.g. "kn_3f9a0c1b2d4e" (random, so unique across processes)."""
    return f"{_PREFIX[kind]}_{uuid.uuid4().hex[:12]}"


def check_namespace(namespace: object) -> str:
    """Validate a namespace name (letters, digits, `_ . @ : + -`; 1-128 chars)."""
    if not isinstance(namespace, str) or not _NAMESPACE_RE.match(namespace):
        raise ValidationError(
            f"namespace {namespace!r} is not valid",
            hint="use 1-128 letters, digits or _ . @ : + - (no spaces)",
        )
    return namespace


# SQLite stores integers in 8 bytes; a larger one could never be written.
MAX_INT = 2**63 - 1


def _whole(obj: object, name: str, high: int = MAX_INT) -> None:
    value = getattr(obj, name)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= high:
        raise ValidationError(
            f"field {name!r} must be a whole number in [0, {high}], not {value!r}"
        )


def _text(obj: object, name: str, *, required: bool = True) -> None:
    value = getattr(obj, name)
    if not isinstance(value, str):
        raise ValidationError(f"field {name!r} must be text, got {type(value).__name__}")
    _encodable(value, name)
    if required and not value.strip():
        raise ValidationError(f"field {name!r} is empty", hint=f"give a non-empty {name}")


def _encodable(value: str, name: str) -> None:
    """JSON allows lone surrogates ("\\ud800"), which no UTF-8 file or database can hold."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValidationError(
            f"field {name!r} holds text that is not valid Unicode (a lone surrogate)",
            hint="send the text as valid UTF-8",
        ) from None


def _number(obj: object, name: str, low: float, high: float, *, optional: bool = False) -> None:
    value = getattr(obj, name)
    if optional and value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
        raise ValidationError(f"field {name!r} must be a number, got {value!r}")
    if not low <= value <= high:
        raise ValidationError(
            f"field {name!r} is {value}, outside [{low}, {high}]",
            hint=f"give {name} a value from {low:g} to {high:g}",
        )


def _tags(obj: Knowledge) -> None:
    tags = obj.tags
    if isinstance(tags, str) or not isinstance(tags, tuple | list):
        raise ValidationError("field 'tags' must be a list of strings", hint='e.g. ["faq", "v2"]')
    for tag in tags:
        if not isinstance(tag, str) or not tag.strip() or len(tag) > 64:
            raise ValidationError(f"tag {tag!r} is not valid", hint="tags are 1-64 chars of text")
        _encodable(tag, "tags")
    object.__setattr__(obj, "tags", tuple(tags))


@dataclass(frozen=True, kw_only=True)
class _Stored:
    """Fields every stored record carries."""

    kind: ClassVar[Kind]
    namespace: str = "default"
    id: str = ""
    version: int = 0
    created_at: float = 0.0  # unix seconds (UTC); 0 until stored
    updated_at: float = 0.0

    def __post_init__(self) -> None:
        check_namespace(self.namespace)
        if not isinstance(self.id, str) or (self.id and not _ID_RE.match(self.id)):
            raise ValidationError(
                f"field 'id' is {self.id!r}", hint="ids are 1-64 letters, digits or _ . : -"
            )
        _whole(self, "version")
        _number(self, "created_at", 0, math.inf)
        _number(self, "updated_at", 0, math.inf)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able fields, with "kind" first (the JSONL export format)."""
        data = dataclasses.asdict(self)
        if "tags" in data:
            data["tags"] = list(data["tags"])
        return {"kind": self.kind, **data}

    @property
    def search_text(self) -> str:
        """What the keyword index sees."""
        raise NotImplementedError

    @property
    def embed_text(self) -> str:
        """What the vector index embeds."""
        return self.search_text

    @property
    def size(self) -> int:
        """Characters of free text, checked against the store's record size limit."""
        return sum(len(v) for v in dataclasses.astuple(self) if isinstance(v, str))


@dataclass(frozen=True, kw_only=True)
class Knowledge(_Stored):
    """A piece of domain knowledge, e.g. a chunk of a document."""

    kind: ClassVar[Kind] = "knowledge"
    domain: str
    text: str
    source: str = ""  # where it came from: a file path, a URL, "user"
    tags: tuple[str, ...] = ()
    superseded_by: str | None = None  # id of the newer record that replaced this one
    # The time the text refers to (`timeparse`): canonical dates/ranges, ";"-separated, e.g.
    # "2023-05-08; 2023-05"; text that is no date is kept as given. "" = not known.
    when: str = ""
    # A conversation's turns (`conversation.py`): who spoke first in the window, and the
    # session the turns belong to ("" for documents).
    speaker: str = ""
    session: str = ""

    def __post_init__(self) -> None:
        super().__post_init__()
        _text(self, "domain")
        _text(self, "text")
        _text(self, "source", required=False)
        _tags(self)
        for name in ("when", "speaker", "session"):
            _text(self, name, required=False)
        _optional_id(self, "superseded_by")

    @property
    def search_text(self) -> str:
        return self.text


@dataclass(frozen=True, kw_only=True)
class Emotion(_Stored):
    """The emotional state a task should answer in, e.g. "empathy", with guidance on tone."""

    kind: ClassVar[Kind] = "emotion"
    task: str
    state: str
    guidance: str = ""  # how to express the state, e.g. "acknowledge the frustration first"
    intensity: float = 0.5  # 0 (barely) .. 1 (strongly)
    superseded_by: str | None = None  # set when a later emotion for the task replaced it

    def __post_init__(self) -> None:
        super().__post_init__()
        _text(self, "task")
        _text(self, "state")
        _text(self, "guidance", required=False)
        _number(self, "intensity", 0.0, 1.0)
        _optional_id(self, "superseded_by")

    @property
    def search_text(self) -> str:
        return f"{self.state}. {self.guidance}".strip()


@dataclass(frozen=True, kw_only=True)
class Experience(_Stored):
    """One past interaction of a task: what came in, what went out, how it went."""

    kind: ClassVar[Kind] = "experience"
    task: str
    situation: str  # the input
    response: str = ""  # the output (may be empty for a note-style experience)
    score: float | None = None  # feedback, -1 (bad) .. 1 (good); None = no feedback yet
    note: str = ""
    when: str = ""  # the time it happened or refers to, as `Knowledge.when`

    def __post_init__(self) -> None:
        super().__post_init__()
        _text(self, "task")
        _text(self, "situation")
        _text(self, "response", required=False)
        _text(self, "note", required=False)
        _text(self, "when", required=False)
        _number(self, "score", -1.0, 1.0, optional=True)

    @property
    def search_text(self) -> str:
        return "\n".join(t for t in (self.situation, self.response, self.note) if t)

    @property
    def embed_text(self) -> str:
        # Similar *inputs* make useful few-shot examples, so the vector sees the situation.
        return self.situation


def _optional_id(obj: object, name: str) -> None:
    value = getattr(obj, name)
    if value is not None and (not isinstance(value, str) or not _ID_RE.match(value)):
        raise ValidationError(f"field {name!r} is {value!r}, not a record id")


Record: TypeAlias = Knowledge | Emotion | Experience
RECORD_TYPES: dict[str, type[Record]] = {
    "knowledge": Knowledge,
    "emotion": Emotion,
    "experience": Experience,
}

# Fields `Store.update` may change, per kind (experiences are append-only apart from feedback).
UPDATABLE: dict[str, frozenset[str]] = {
    "knowledge": frozenset({"domain", "text", "source", "tags", "when"}),
    "emotion": frozenset({"state", "guidance", "intensity"}),
    "experience": frozenset({"score", "note"}),
}


# Far past any use (a prompt holds a few thousand tokens), low enough that no search breaks;
# the one bound on hits per search and records per task setting, for every shell.
MAX_TOP_K = 1000
# How a search ranks: keywords and meaning fused, or either alone (`Store.search`).
SearchMode = Literal["hybrid", "keyword", "vector"]
SEARCH_MODES: tuple[str, ...] = ("hybrid", "keyword", "vector")
MAX_BUDGET_TOKENS = 1_000_000
# Candidates the model rescores per question, and second searches per question, at most:
# each candidate is a forward pass over its tokens, each hop a search.
MAX_RERANK_DEPTH = 200
MAX_HOPS = 3


@dataclass(frozen=True, kw_only=True)
class RetrievalSettings:
    """How much a task takes from the Mental Process per request."""

    knowledge_top_k: int = 4
    experience_top_k: int = 3
    min_similarity: float = 0.3  # hits below this cosine similarity are dropped
    knowledge_tokens: int = 512  # token budget for knowledge in the prompt
    experience_tokens: int = 256
    # Retrieval while decoding (in-process backend): when the model's most likely next token
    # has a probability under `unsure_below`, search again with the answer so far; at most
    # `decode_retrievals` searches per answer (0 turns it off).
    unsure_below: float = 0.2
    decode_retrievals: int = 2
    # Reranking by the Autopilot (in-process backend; `self_taking/rerank.py`): the best
    # `rerank_depth` knowledge hits rescored by the model (likelihood of the question after
    # the first `rerank_tokens` tokens of each), fused with the search's order with weight
    # `rerank_weight` (0: search only, 1: model only). 0 turns it off (the default: on this
    # model it costs seconds per question; docs/benchmarks/retrieval.md).
    rerank_depth: int = 0
    rerank_tokens: int = 64
    rerank_weight: float = 0.5
    # Time-aware retrieval: a question naming a time ("last May", "in 2023") prefers records
    # whose `when` overlaps it; relative times resolve against the request's date.
    time_aware: bool = True
    # Multi-hop: when the question's names are missing from what was taken, at most this
    # many second searches with the question and the best record's text (0 turns it off).
    multi_hop: int = 0

    def __post_init__(self) -> None:
        for name, high in (
            ("knowledge_top_k", MAX_TOP_K),
            ("experience_top_k", MAX_TOP_K),
            ("knowledge_tokens", MAX_BUDGET_TOKENS),
            ("experience_tokens", MAX_BUDGET_TOKENS),
            ("decode_retrievals", MAX_TOP_K),
            ("rerank_depth", MAX_RERANK_DEPTH),
            ("multi_hop", MAX_HOPS),
        ):
            _whole(self, name, high)
        _whole(self, "rerank_tokens", MAX_BUDGET_TOKENS)
        if self.rerank_tokens < 8:
            raise ValidationError(f"field 'rerank_tokens' is {self.rerank_tokens}, below 8")
        _number(self, "min_similarity", -1.0, 1.0)
        _number(self, "unsure_below", 0.0, 1.0)
        _number(self, "rerank_weight", 0.0, 1.0)
        if not isinstance(self.time_aware, bool):
            raise ValidationError("field 'time_aware' must be true or false")


ANSWER_MODES: tuple[str, ...] = ("generate", "extractive")
ANSWER_STYLES: tuple[str, ...] = ("free", "short")
MAX_FAITHFULNESS = 5.0


@dataclass(frozen=True, kw_only=True)
class AnswerSettings:
    """How a task answers from what it took: faithful to the records, extractive and cited,
    or "I don't know"."""

    # "generate": the model writes the answer; "extractive": the answer is the best span of
    # the taken knowledge, scored by the model, cited by record id and character offsets.
    mode: str = "generate"
    # Context-aware decoding strength alpha (in-process backend): each step's logits are
    # (1 + alpha) * with the records - alpha * without them; 0 turns it off.
    faithfulness: float = 0.0
    # "short": a few words (the prompt asks for it and decoding stops after the first
    # sentence); "free": as the model likes.
    style: str = "free"
    # Say `abstain_text` instead of answering when no knowledge was taken, or when less than
    # `min_support` of the answer's sentences are supported by the taken records.
    abstain: bool = False
    abstain_text: str = "I don't know."
    min_support: float = 0.5
    # Steer the task's emotional state into the answer's opening sentence (activation
    # steering, local backend, strength from the emotion's intensity) on top of its prompt
    # line; the rest of the answer is decoded unsteered (docs/tone.md). Off by default.
    steer_tone: bool = False
    # With steer_tone: decode the opening once more, stronger, when the tone scorer says it
    # misses the tone (costs a short decode before the answer shows).
    retry_tone: bool = False
    # Read the taken knowledge with the built-in reader adapter (a LoRA on the frozen base
    # trained to answer from the reference in a few words, following it over what the model
    # memorised; `adapters/builtin.py`) when the task has no adapter of its own and knowledge
    # was taken. In-process backend, the bundled default model.
    reader: bool = False

    def __post_init__(self) -> None:
        for name, allowed in (("mode", ANSWER_MODES), ("style", ANSWER_STYLES)):
            if getattr(self, name) not in allowed:
                raise ValidationError(
                    f"answer {name} {getattr(self, name)!r} is not valid",
                    hint=f"use one of: {', '.join(allowed)}",
                )
        _number(self, "faithfulness", 0.0, MAX_FAITHFULNESS)
        _number(self, "min_support", 0.0, 1.0)
        for name in ("abstain", "steer_tone", "retry_tone", "reader"):
            if not isinstance(getattr(self, name), bool):
                raise ValidationError(f"field {name!r} must be true or false")
        _text(self, "abstain_text")


@dataclass(frozen=True, kw_only=True)
class TaskProfile:
    """A task: who the assistant is for it and what it may draw on."""

    name: str
    namespace: str = "default"
    description: str = ""
    personality: str = ""  # persona text, e.g. "a patient support agent"
    expertise: tuple[str, ...] = ()  # knowledge domains the task may draw on; () = all
    default_emotion: str | None = None  # used when the task has no emotion record
    retrieval: RetrievalSettings = field(default_factory=RetrievalSettings)
    answer: AnswerSettings = field(default_factory=AnswerSettings)
    adapter: str | None = None  # id of the active task adapter ("ad_..."), if any
    version: int = 0
    created_at: float = 0.0
    updated_at: float = 0.0

    def __post_init__(self) -> None:
        _text(self, "name")
        check_namespace(self.namespace)
        _text(self, "description", required=False)
        _text(self, "personality", required=False)
        if isinstance(self.expertise, str) or not isinstance(self.expertise, tuple | list):
            raise ValidationError("field 'expertise' must be a list of domain names")
        for domain in self.expertise:
            if not isinstance(domain, str) or not domain.strip():
                raise ValidationError(f"expertise domain {domain!r} is not valid")
            _encodable(domain, "expertise")
        object.__setattr__(self, "expertise", tuple(self.expertise))
        for name in ("default_emotion", "adapter"):
            if getattr(self, name) is not None:
                _text(self, name)
        if not isinstance(self.retrieval, RetrievalSettings):
            raise ValidationError("field 'retrieval' must be RetrievalSettings")
        if not isinstance(self.answer, AnswerSettings):
            raise ValidationError("field 'answer' must be AnswerSettings")
        _whole(self, "version")

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["expertise"] = list(self.expertise)
        return {"kind": "task", **data}


def _check_keys(cls: type, data: Mapping[str, Any], what: str) -> dict[str, Any]:
    names = {f.name for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ValidationError(
            f"unknown field(s) for {what}: {', '.join(unknown)}",
            hint=f"allowed: {', '.join(sorted(names))}",
        )
    return dict(data)


def record_from_dict(data: Mapping[str, Any]) -> Record | TaskProfile:
    """Rebuild a record or task profile from `to_dict()` output; rejects unknown keys."""
    if not isinstance(data, Mapping):
        raise ValidationError(f"expected an object, got {type(data).__name__}")
    fields = dict(data)
    kind = fields.pop("kind", None)
    try:
        if kind == "task":
            fields = _check_keys(TaskProfile, fields, "task")
            for name, settings in (("retrieval", RetrievalSettings), ("answer", AnswerSettings)):
                if isinstance(fields.get(name), Mapping):
                    fields[name] = settings(**_check_keys(settings, fields[name], name))
            return TaskProfile(**fields)
        if kind not in RECORD_TYPES:
            raise ValidationError(
                f"unknown kind {kind!r}", hint=f"use one of: {', '.join((*KINDS, 'task'))}"
            )
        cls = RECORD_TYPES[kind]
        return cls(**_check_keys(cls, fields, kind))
    except TypeError as err:  # a required field is missing
        raise ValidationError(f"{kind}: {err}", hint="see the record's fields") from None


@dataclass(frozen=True)
class Hit:
    """One search result.

    Score contract:
    - `score` orders the results and means nothing else: in "hybrid" mode the reciprocal rank
      fusion of the keyword and vector rankings, sum of 1 / (60 + rank) (ranks from 1); in
      "keyword" mode `keyword_score`; in "vector" mode `similarity`.
    - `similarity` is the cosine similarity in [-1, 1] between the query's embedding and the
      record's, computed for every hit (keyword-only hits too): threshold relevance with it.
    - `keyword_score` is BM25 mapped to [0, 1) as s / (1 + s), s = -bm25 (higher = better),
      or None when the record did not match the keywords.
    - `keyword_rank` / `vector_rank`: 1-based rank in each list, None when not in it.
    - `rerank_score`: set by self-taking's reranking (`self_taking/rerank.py`), the model's
      log-likelihood of the question after the record's text; `score` stays the search's.
    - `time_match`: set by time-aware retrieval: whether the record's `when` overlaps the
      question's time (None: the question named no time, or the record has none).
    """

    record: Record
    score: float
    similarity: float
    keyword_score: float | None = None
    keyword_rank: int | None = None
    vector_rank: int | None = None
    rerank_score: float | None = None
    time_match: bool | None = None


@dataclass(frozen=True)
class Change:
    """One recorded change: who changed what, when, from which state to which.

    `before` is None for an addition, `after` None for a deletion. Changes made by one call
    (e.g. one `add_many`, one `delete_scope`) share a `batch`; `undo` reverts a whole batch.
    """

    seq: int
    namespace: str
    record_id: str  # a record id, or "task:<name>" for a task profile
    kind: str  # a record kind or "task"
    op: Op
    actor: str
    at: float  # unix seconds
    batch: int
    before: Record | TaskProfile | None
    after: Record | TaskProfile | None
    undone: bool = False
