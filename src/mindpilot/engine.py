"""The one core: a request in, a response with provenance out.

The CLI, the HTTP server and the Python API (`AutopilotWithMentalProcess`) all call `Engine`.
`(namespace, task, messages)` -> task profile -> self-taking (search the Mental Process) ->
prompt composition -> the Autopilot generates -> text + the records used + timings.
"""

from __future__ import annotations

import time
from collections.abc import Generator
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from mindpilot.autopilot.model import Autopilot, Prompt, _config
from mindpilot.autopilot.types import (
    Generation,
    GenerationConfig,
    Message,
    Stream,
    as_messages,
)
from mindpilot.mental_process.records import Hit, TaskProfile
from mindpilot.mental_process.store import Store
from mindpilot.self_taking import Taken, compose, take
from mindpilot.self_taking.while_decoding import RetrieveWhileDecoding

if TYPE_CHECKING:
    from mindpilot.monitor.audit import AuditLog


@dataclass(frozen=True)
class UsedRecord:
    """Provenance: one Mental Process record the answer was conditioned on."""

    id: str
    kind: str
    version: int
    similarity: float
    score: float
    stage: str = "prompt"  # "prompt": taken before generating; "decoding": taken mid-answer

    @classmethod
    def from_hit(cls, hit: Hit, stage: str = "prompt") -> UsedRecord:
        record = hit.record
        return cls(record.id, record.kind, record.version, hit.similarity, hit.score, stage)


@dataclass(frozen=True)
class Response:
    """An answer and why it is what it is."""

    text: str
    namespace: str
    task: str | None
    used: tuple[UsedRecord, ...]  # records taken from the Mental Process, in prompt order
    tone: str | None  # the emotional state the prompt asked for
    prompt: tuple[Message, ...]  # the composed messages the model saw
    generation: Generation
    retrieval_s: float
    compose_s: float
    memory_tokens: int  # prompt tokens added by the Mental Process (composed - bare)
    request: tuple[Message, ...] = ()  # the messages as the caller gave them
    audit_id: str | None = None  # the audit log entry, when the engine keeps one
    decode_searches: int = 0  # searches made mid-answer because the model was unsure
    decode_retrieval_s: float = 0.0

    @property
    def used_ids(self) -> list[str]:
        return [u.id for u in self.used]


@dataclass(frozen=True)
class Prepared:
    """A request after self-taking, before generation."""

    namespace: str
    task: str | None
    messages: tuple[Message, ...]
    taken: Taken | None
    compose_s: float
    memory_tokens: int
    request: tuple[Message, ...] = ()  # the messages as the caller gave them


class Engine:
    """The Autopilot conditioned on the Mental Process by self-taking. With an `audit` log
    (monitor.AuditLog), every finished response is recorded and carries its `audit_id`."""

    def __init__(
        self, autopilot: Autopilot, store: Store | None = None, audit: AuditLog | None = None
    ) -> None:
        self.autopilot = autopilot
        self.store = store
        self.audit = audit

    def prepare(
        self,
        prompt: Prompt,
        *,
        task: str | None = None,
        namespace: str = "default",
        use_memory: bool = True,
        profile: TaskProfile | None = None,
    ) -> Prepared:
        """Self-taking and composition without generating. `profile` overrides the stored one."""
        messages = as_messages(prompt)
        if not (use_memory and task and self.store is not None):
            return Prepared(namespace, task, tuple(messages), None, 0.0, 0, tuple(messages))
        taken = take(self.store, namespace, task, messages, self.autopilot.count_text, profile)
        started = time.perf_counter()
        composed = compose(taken, messages)
        compose_s = time.perf_counter() - started
        extra = self.autopilot.count_tokens(composed) - self.autopilot.count_tokens(messages)
        return Prepared(namespace, task, tuple(composed), taken, compose_s, extra, tuple(messages))

    def respond(
        self,
        prompt: Prompt,
        *,
        task: str | None = None,
        namespace: str = "default",
        config: GenerationConfig | None = None,
        use_memory: bool = True,
        **overrides: Any,
    ) -> Response:
        """Answer with what the task needs from the Mental Process; see `Response`."""
        return self.stream(
            prompt,
            task=task,
            namespace=namespace,
            config=config,
            use_memory=use_memory,
            **overrides,
        ).finish()

    def stream(
        self,
        prompt: Prompt,
        *,
        task: str | None = None,
        namespace: str = "default",
        config: GenerationConfig | None = None,
        use_memory: bool = True,
        **overrides: Any,
    ) -> Stream[Response]:
        """Like `respond`, streamed; `.result` holds the Response after the last piece."""
        prepared = self.prepare(prompt, task=task, namespace=namespace, use_memory=use_memory)
        return self.stream_prepared(prepared, config, **overrides)

    def stream_prepared(
        self,
        prepared: Prepared,
        config: GenerationConfig | None = None,
        *,
        session_id: str | None = None,
        **overrides: Any,
    ) -> Stream[Response]:
        """Generate for a request already through `prepare` (e.g. a chat fitting its history
        to the context window); `session_id` goes into the audit log."""
        messages, config = list(prepared.messages), _config(config, overrides)
        hook = self._hook(prepared)
        if hook is None:
            stream = self.autopilot.stream(messages, config)
        else:
            stream = self.autopilot.backend.stream_with_hook(messages, config, hook)
        return Stream(self._respond(prepared, stream, session_id, hook))

    def _hook(self, prepared: Prepared) -> RetrieveWhileDecoding | None:
        """Retrieval during decoding, where the backend can and the task allows it."""
        taken = prepared.taken
        if taken is None or self.store is None or not self.autopilot.consults_while_decoding:
            return None
        if (
            taken.profile.retrieval.decode_retrievals == 0
            or taken.profile.retrieval.knowledge_top_k == 0
        ):
            return None
        return RetrieveWhileDecoding(
            self.store, prepared.namespace, taken, prepared.request, self.autopilot.count_text
        )

    def _respond(
        self,
        prepared: Prepared,
        stream: Any,
        session_id: str | None = None,
        hook: RetrieveWhileDecoding | None = None,
    ) -> Generator[str, None, Response]:
        yield from stream
        generation: Generation = stream.finish()
        taken = prepared.taken
        used = [UsedRecord.from_hit(h) for h in (taken.knowledge if taken else ())]
        used += [UsedRecord.from_hit(h, "decoding") for h in (hook.added if hook else ())]
        used += [UsedRecord.from_hit(h) for h in (taken.experiences if taken else ())]
        if taken and taken.emotion:  # not searched for: the task's current state, always used
            emotion = taken.emotion
            used.append(UsedRecord(emotion.id, emotion.kind, emotion.version, 1.0, 1.0))
        prompt, memory_tokens = prepared.messages, prepared.memory_tokens
        if hook is not None and hook.messages is not None:  # knowledge was added mid-answer
            prompt = hook.messages
            memory_tokens = self.autopilot.count_tokens(prompt) - self.autopilot.count_tokens(
                prepared.request
            )
        response = Response(
            text=generation.text,
            namespace=prepared.namespace,
            task=prepared.task,
            used=tuple(used),
            tone=taken.tone if taken else None,
            prompt=prompt,
            generation=generation,
            retrieval_s=taken.retrieval_s if taken else 0.0,
            compose_s=prepared.compose_s,
            memory_tokens=memory_tokens,
            request=prepared.request,
            decode_searches=hook.searches if hook else 0,
            decode_retrieval_s=hook.retrieval_s if hook else 0.0,
        )
        if self.audit is None:
            return response
        return replace(response, audit_id=self.audit.record(response, session_id).id)


class AutopilotWithMentalProcess:
    """The proposal's object: the frozen model conditioned on a Mental Process.

    >>> model, tokenizer = create_autopilot_system()
    >>> apmp = AutopilotWithMentalProcess(model, tokenizer, MentalProcess())
    >>> apmp.generate_text("Explain the concept of supervised learning.", "Machine Learning")
    """

    def __init__(self, autopilot_model: Any, autopilot_tokenizer: Any, mental_process: Any) -> None:
        from mindpilot.autopilot.transformers_backend import TransformersBackend

        backend = TransformersBackend(autopilot_model, autopilot_tokenizer)
        self.mental_process = mental_process
        self.engine = Engine(Autopilot(backend), mental_process.store)

    def generate_text(self, prompt: str, task: str, max_new_tokens: int = 128) -> str:
        """The answer to `prompt`, taking from the Mental Process what `task` needs."""
        return self.respond(prompt, task, max_new_tokens=max_new_tokens).text

    def respond(self, prompt: str, task: str, **overrides: Any) -> Response:
        """Like `generate_text`, with provenance and timings."""
        return self.engine.respond(
            prompt, task=task, namespace=self.mental_process.namespace, **overrides
        )
