"""The Mental Process at the HTTP edge: pydantic request models in, response models out.

Requests forbid unknown fields and bound every size, so no schema-valid request reaches the
store with a value it cannot take (e.g. a limit past an SQL integer; unpaired surrogates, which
SQLite cannot encode, FastAPI's JSON parser already refuses). The records' own rules (non-empty
text, which fields an update may change, the store's record size limit -> 413) stay in the
store: these models only shape the wire. Responses mirror the typed records (records.py) field
for field.
"""

from __future__ import annotations

from typing import Annotated, Generic, Literal, TypeVar

from fastapi import Depends
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    Strict,
    StringConstraints,
    TypeAdapter,
)
from pydantic.json_schema import SkipJsonSchema

from mindpilot.mental_process.records import (
    MAX_TOP_K,
    AnswerSettings,
    Change,
    Hit,
    Kind,
    Record,
    RetrievalSettings,
)
from mindpilot.mental_process.records import TaskProfile as _TaskProfile
from mindpilot.mental_process.store import SearchMode
from mindpilot.server.deps import ServerState, caller_namespace, get_state

NAME_CHARS = 200  # domain, task, state, tag-like names
TEXT_CHARS = 1_000_000  # free text; the store's own record limit (default 100k) answers 413
SOURCE_CHARS = 2_000
QUERY_CHARS = 10_000
MAX_LIST = 100  # filter values per list (domains, tasks, tags, expertise)


# What every Mental Process route takes: the caller's namespace (the only one it may touch),
# the server's state, and the actor its changes are logged under.
Namespace = Annotated[str, Depends(caller_namespace)]
State = Annotated[ServerState, Depends(get_state)]
ACTOR = "api"


Text = Annotated[str, StringConstraints(max_length=TEXT_CHARS)]
Name = Annotated[str, StringConstraints(min_length=1, max_length=NAME_CHARS)]
Tag = Annotated[str, StringConstraints(min_length=1, max_length=64)]
Source = Annotated[str, StringConstraints(max_length=SOURCE_CHARS)]
# Strict numbers and booleans: false is not a score of 0, nor 1 a "true" (ints are fine floats).
Intensity = Annotated[float, Strict(), Field(ge=0.0, le=1.0, allow_inf_nan=False)]
Score = Annotated[float, Strict(), Field(ge=-1.0, le=1.0, allow_inf_nan=False)]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


# ---- requests ---------------------------------------------------------------------------------
class KnowledgeIn(_In):
    """A piece of domain knowledge."""

    kind: Literal["knowledge"]
    domain: Name
    text: Annotated[Text, StringConstraints(min_length=1)]
    source: Source = "api"
    tags: list[Tag] = Field(default_factory=list, max_length=MAX_LIST)


class EmotionIn(_In):
    """The task's emotional state; it supersedes the task's current one."""

    kind: Literal["emotion"]
    task: Name
    state: Name
    guidance: Text = ""
    intensity: Intensity = 0.5


class ExperienceIn(_In):
    """One past interaction of a task (append-only; only score and note change later)."""

    kind: Literal["experience"]
    task: Name
    situation: Annotated[Text, StringConstraints(min_length=1)]
    response: Text = ""
    score: Score | None = None
    note: Text = ""


RecordIn = Annotated[KnowledgeIn | EmotionIn | ExperienceIn, Field(discriminator="kind")]


class SupersedeIn(_In):
    """The knowledge record that replaces an older one."""

    domain: Name
    text: Annotated[Text, StringConstraints(min_length=1)]
    source: Source = "api"
    tags: list[Tag] = Field(default_factory=list, max_length=MAX_LIST)


class RecordPatch(_In):
    """Fields to change; which ones a kind allows is the store's rule: knowledge domain, text,
    source, tags; emotion state, guidance, intensity; experience score and note only."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"minProperties": 1})

    # `SkipJsonSchema[None]`: null is read as "not given" but not advertised; `score` alone
    # takes a real null (it clears an experience's feedback).
    domain: Name | SkipJsonSchema[None] = None
    text: Annotated[Text, StringConstraints(min_length=1)] | SkipJsonSchema[None] = None
    source: Source | SkipJsonSchema[None] = None
    tags: Annotated[list[Tag], Field(max_length=MAX_LIST)] | SkipJsonSchema[None] = None
    state: Name | SkipJsonSchema[None] = None
    guidance: Text | SkipJsonSchema[None] = None
    intensity: Intensity | SkipJsonSchema[None] = None
    score: Score | None = None
    note: Text | SkipJsonSchema[None] = None

    def changes(self) -> dict[str, object]:
        """The fields the caller gave, as `Store.update` takes them."""
        given = self.model_dump(exclude_unset=True)
        return {k: v for k, v in given.items() if v is not None or k == "score"}


class SearchIn(_In):
    """A search of the namespace's current records."""

    query: Annotated[Text, StringConstraints(min_length=1, max_length=QUERY_CHARS)]
    kinds: Annotated[list[Kind], Field(min_length=1, max_length=3)] | None = None
    domains: Annotated[list[Name], Field(max_length=MAX_LIST)] | None = Field(
        None, description="Knowledge only from these domains (other kinds unaffected)."
    )
    tasks: Annotated[list[Name], Field(max_length=MAX_LIST)] | None = Field(
        None, description="Emotions and experiences only of these tasks."
    )
    tags: list[Tag] = Field(default_factory=list, max_length=MAX_LIST)
    top_k: int = Field(5, ge=1, le=MAX_TOP_K)
    mode: SearchMode = "hybrid"


class TaskIn(_In):
    """A whole task profile (PUT replaces it; omitted fields take their defaults)."""

    description: Text = ""
    personality: Text = Field("", description="Persona text, e.g. 'a patient support agent'.")
    expertise: list[Name] = Field(
        default_factory=list, max_length=MAX_LIST, description="Knowledge domains; [] = all."
    )
    default_emotion: Name | None = None
    adapter: Name | None = None
    # The dataclass itself, so a new setting needs no change here: pydantic checks its types
    # and unknown keys, its __post_init__ the ranges, upper bounds included (-> 422).
    retrieval: RetrievalSettings = Field(
        default_factory=RetrievalSettings,
        description="Top k and token budgets per kind, minimum similarity, decoding retrieval.",
    )
    answer: AnswerSettings = Field(
        default_factory=AnswerSettings,
        description="Answer mode (generate | extractive), faithfulness (context-aware decoding "
        "alpha, 0 = off), style (free | short), abstention, steer_tone (activation steering "
        "of the task's emotion into the opening sentence; off by default), retry_tone (decode "
        "an opening that misses the tone once more, stronger), reader (answer from the taken "
        "knowledge through the built-in reader adapter).",
    )

    def profile(self, namespace: str, name: str) -> _TaskProfile:
        fields = {f: getattr(self, f) for f in type(self).model_fields}
        return _TaskProfile(name=name, namespace=namespace, **fields)


class FeedbackIn(_In):
    """Was the answer good? It becomes an experience of its task (score 1 or -1)."""

    good: Annotated[bool, Strict()]
    note: Annotated[Text, StringConstraints(max_length=QUERY_CHARS)] = ""


# ---- responses --------------------------------------------------------------------------------
class _StoredOut(_Out):
    namespace: str
    id: str
    version: int
    created_at: float = Field(description="Unix seconds.")
    updated_at: float


class KnowledgeOut(_StoredOut):
    kind: Literal["knowledge"]
    domain: str
    text: str
    source: str
    tags: list[str]
    superseded_by: str | None
    when: str = ""  # the time the text refers to (canonical dates; see `Knowledge.when`)
    speaker: str = ""  # a conversation's speakers in the record, "" for documents
    session: str = ""


class EmotionOut(_StoredOut):
    kind: Literal["emotion"]
    task: str
    state: str
    guidance: str
    intensity: float
    superseded_by: str | None


class ExperienceOut(_StoredOut):
    kind: Literal["experience"]
    task: str
    situation: str
    response: str
    score: float | None
    note: str
    when: str = ""


class TaskOut(_Out):
    kind: Literal["task"]
    name: str
    namespace: str
    description: str
    personality: str
    expertise: list[str]
    default_emotion: str | None
    retrieval: RetrievalSettings
    answer: AnswerSettings
    adapter: str | None
    version: int
    created_at: float
    updated_at: float


RecordOut = Annotated[KnowledgeOut | EmotionOut | ExperienceOut, Field(discriminator="kind")]
ItemOut = Annotated[
    KnowledgeOut | EmotionOut | ExperienceOut | TaskOut, Field(discriminator="kind")
]
_RECORD: TypeAdapter[KnowledgeOut | EmotionOut | ExperienceOut] = TypeAdapter(RecordOut)
_ITEM: TypeAdapter[KnowledgeOut | EmotionOut | ExperienceOut | TaskOut] = TypeAdapter(ItemOut)


class HitOut(_Out):
    """One search hit; see `Hit` for the score contract (`similarity` is the cosine, -1..1)."""

    score: float
    similarity: float
    keyword_score: float | None
    keyword_rank: int | None
    vector_rank: int | None
    rerank_score: float | None = None
    time_match: bool | None = None
    record: RecordOut


class ChangeOut(_Out):
    """One recorded change: `before` is null for an addition, `after` for a deletion."""

    seq: int
    record_id: str
    kind: str
    op: Literal["add", "update", "supersede", "delete", "import", "undo"]
    actor: str
    at: float
    batch: int
    undone: bool
    before: ItemOut | None
    after: ItemOut | None


T = TypeVar("T")


class ListOf(_Out, Generic[T]):
    object: Literal["list"] = "list"
    data: list[T]
    has_more: Annotated[
        bool, Field(description="More items lie past this page (raise offset).")
    ] = False


class RecordList(ListOf[RecordOut]):
    pass


class HitList(ListOf[HitOut]):
    pass


class ChangeList(ListOf[ChangeOut]):
    pass


class TaskList(ListOf[TaskOut]):
    pass


class DeletedOut(_Out):
    deleted: int = Field(description="Records and task profiles removed (undo brings them back).")


class ImportedOut(_Out):
    imported: int = Field(description="Lines (records and task profiles) imported.")


class IngestedOut(_Out):
    added: int = Field(description="Knowledge records made from the file.")
    ids: list[str]


# ---- conversions ------------------------------------------------------------------------------
def record_out(record: Record) -> KnowledgeOut | EmotionOut | ExperienceOut:
    return _RECORD.validate_python(record.to_dict())


def task_out(profile: _TaskProfile) -> TaskOut:
    return TaskOut.model_validate(profile.to_dict())


def hit_out(hit: Hit) -> HitOut:
    return HitOut(
        score=hit.score, similarity=hit.similarity, keyword_score=hit.keyword_score,
        keyword_rank=hit.keyword_rank, vector_rank=hit.vector_rank, record=record_out(hit.record),
    )  # fmt: skip


def change_out(change: Change) -> ChangeOut:
    return ChangeOut(
        seq=change.seq, record_id=change.record_id, kind=change.kind, op=change.op,
        actor=change.actor, at=change.at, batch=change.batch, undone=change.undone,
        before=_item(change.before), after=_item(change.after),
    )  # fmt: skip


def _item(
    item: Record | _TaskProfile | None,
) -> KnowledgeOut | EmotionOut | ExperienceOut | TaskOut | None:
    return None if item is None else _ITEM.validate_python(item.to_dict())
