"""The one core: a request in, a response with provenance out.

The CLI, the HTTP server and the Python API (`AutopilotWithMentalProcess`) all call `Engine`,
and all open it the same way, `Engine.open(...)` (also `mindpilot.open`): the Autopilot, the
Mental Process store and the audit log wired together.
`(namespace, task, messages)` -> task profile -> self-taking (search the Mental Process) ->
prompt composition -> the Autopilot generates -> text + the records used + timings.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mindpilot.adapters import AdapterLibrary, Manifest, attach, serving_profile
from mindpilot.autopilot.model import Autopilot
from mindpilot.autopilot.span_scoring import CandidateScorer
from mindpilot.errors import ConfigError, ValidationError
from mindpilot.mental_process.embed import Embedder
from mindpilot.mental_process.records import ANSWER_MODES, AnswerSettings, Hit, TaskProfile
from mindpilot.mental_process.store import Store, open_store
from mindpilot.self_taking import TakenRecords, compose, take_from_mental_process, task_profile
from mindpilot.self_taking.citations import cite, supported_fraction
from mindpilot.self_taking.compose import answer_config
from mindpilot.self_taking.extractive import extract
from mindpilot.self_taking.while_decoding import RetrieveWhileDecoding
from mindpilot.types import (
    AdapterUse,
    Citation,
    Generation,
    GenerationConfig,
    Message,
    Prompt,
    Response,
    Stream,
    Timings,
    Usage,
    UsedRecord,
    as_messages,
    with_overrides,
)

if TYPE_CHECKING:
    from mindpilot.monitor.audit import AuditLog

# An extractive answer with no knowledge taken, when the task does not abstain.
NOTHING_TO_EXTRACT = "Nothing in memory to extract an answer from."


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
    return UsedRecord(record.id, record.kind, record.version, hit.similarity, hit.score, stage)


class Engine:
    """The Autopilot conditioned on the Mental Process by self-taking. With an `audit` log
    (monitor.AuditLog), every finished response is recorded and carries its `audit_id`.

    `autopilot` may be a loader (a callable returning the Autopilot), called on first use:
    a server then answers memory calls and lists models (`model_name`) before the model loads.
    """

    def __init__(
        self,
        autopilot: Autopilot | Callable[[], Autopilot],
        store: Store | None = None,
        audit: AuditLog | None = None,
        *,
        model_name: str | None = None,
        adapters: AdapterLibrary | None = None,
    ) -> None:
        self._autopilot = autopilot if isinstance(autopilot, Autopilot) else None
        self._load = None if isinstance(autopilot, Autopilot) else autopilot
        self._load_lock = threading.Lock()
        self._model_name = model_name
        self.store = store
        self.audit = audit
        self._owned: list[Any] = []  # what `close` closes: what `open` opened
        self._library = adapters  # default: the installation's (MINDPILOT_HOME/adapters)
        self._manifests: dict[tuple[str, str], Manifest] = {}

    @classmethod
    def open(
        cls,
        model: str | Autopilot | None = None,
        *,
        backend: str = "transformers",
        store: Store | str | Path | None = None,
        memory: bool = True,
        audit: bool = True,
        lazy: bool = False,
        **options: Any,
    ) -> Engine:
        """The whole system, wired once for every shell: the Autopilot (`model` on `backend`;
        None = the bundled default; `options` go to the backend; or an Autopilot already
        loaded), the Mental Process (`store`:
        an open Store, a path or URL, or None for the default file under MINDPILOT_HOME; no
        store with `memory=False`) and the store's audit log (`audit`). `lazy` loads the
        model on first use. Close it (or use `with`) to close what it opened."""
        from mindpilot.monitor.audit import AuditLog

        def load() -> Autopilot:
            if isinstance(model, Autopilot):
                return model
            return Autopilot.load(model, backend=backend, **options)

        opened = None
        if memory and not isinstance(store, Store):
            opened = open_store(store)
        the_store = opened if opened is not None else (store if memory else None)
        assert the_store is None or isinstance(the_store, Store)
        log = AuditLog.for_store(the_store) if audit and the_store is not None else None
        try:
            name = None
            if lazy and not isinstance(model, Autopilot):
                name = Autopilot.name_of(model, backend)
            engine = cls(load if lazy else load(), the_store, log, model_name=name)
        except BaseException:
            for thing in (log, opened):
                if thing is not None:
                    thing.close()
            raise
        engine._owned = [x for x in (log, opened) if x is not None]
        return engine

    @property
    def autopilot(self) -> Autopilot:
        """The frozen model (loaded now if the engine was given a loader)."""
        with self._load_lock:
            if self._autopilot is None:
                assert self._load is not None
                self._autopilot = self._load()
            return self._autopilot

    @property
    def model_name(self) -> str:
        """The base model's name, without loading it when it was given."""
        if self._autopilot is None and self._model_name is not None:
            return self._model_name
        return self.autopilot.model_name

    def close(self) -> None:
        """Close the audit log and store that `open` opened (not ones passed in)."""
        for thing in self._owned:
            thing.close()
        self._owned = []

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def prepare(
        self,
        prompt: Prompt,
        *,
        task: str | None = None,
        namespace: str = "default",
        use_memory: bool = True,
        profile: TaskProfile | None = None,
    ) -> ComposedRequest:
        """Self-taking and composition without generating. `profile` overrides the stored one."""
        messages = as_messages(prompt)
        if not (use_memory and task and self.store is not None):
            return ComposedRequest(namespace, task, tuple(messages), None, 0.0, 0, tuple(messages))
        profile = profile or task_profile(self.store, namespace, task)
        if profile.adapter is not None:  # the adapter has learned the task's examples
            profile = serving_profile(profile)
        taken = take_from_mental_process(
            self.store, namespace, task, messages, self.autopilot.count_text, profile
        )
        return self.recompose(namespace, task, taken, messages)

    def recompose(
        self, namespace: str, task: str | None, taken: TakenRecords, messages: Sequence[Message]
    ) -> ComposedRequest:
        """Compose `messages` with records already taken, without searching again (a chat
        that drops old turns to fit the context window keeps what its question found)."""
        started = time.perf_counter()
        composed = compose(taken, messages)
        compose_s = time.perf_counter() - started
        extra = self.autopilot.count_tokens(composed) - self.autopilot.count_tokens(messages)
        return ComposedRequest(
            namespace, task, tuple(composed), taken, compose_s, extra, tuple(messages),
            adapter=taken.profile.adapter,
        )  # fmt: skip

    @property
    def adapters(self) -> AdapterLibrary:
        """The installation's saved task adapters."""
        if self._library is None:
            self._library = AdapterLibrary()
        return self._library

    def apply_adapter(self, namespace: str, adapter_id: str | None) -> AdapterUse | None:
        """Load a task's adapter into the Autopilot (once) and name it for provenance."""
        if adapter_id is None:
            return None
        key = (namespace, adapter_id)
        manifest = self._manifests.get(key)
        if manifest is None:  # first use: check and load it, then remember it
            manifest = self.adapters.get(namespace, adapter_id)
            attach(self.autopilot.backend, self.adapters, manifest)
            self._manifests[key] = manifest
        return AdapterUse(manifest.id, manifest.task, manifest.version)

    def respond(
        self,
        prompt: Prompt,
        *,
        task: str | None = None,
        namespace: str = "default",
        config: GenerationConfig | None = None,
        use_memory: bool = True,
        answer_mode: str | None = None,
        **overrides: Any,
    ) -> Response:
        """Answer with what the task needs from the Mental Process; see `Response`.
        `answer_mode` ("generate" or "extractive") overrides the task's for this request."""
        return self.stream(
            prompt,
            task=task,
            namespace=namespace,
            config=config,
            use_memory=use_memory,
            answer_mode=answer_mode,
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
        answer_mode: str | None = None,
        **overrides: Any,
    ) -> Stream[Response]:
        """Like `respond`, streamed; `.result` holds the Response after the last piece."""
        prepared = self.prepare(prompt, task=task, namespace=namespace, use_memory=use_memory)
        return self.stream_answer(prepared, config, answer_mode=answer_mode, **overrides)

    def stream_prepared(
        self,
        prepared: ComposedRequest,
        config: GenerationConfig | None = None,
        *,
        session_id: str | None = None,
        **overrides: Any,
    ) -> Stream[Response]:
        """Generate for a request already through `prepare` (e.g. a chat fitting its history
        to the context window); `session_id` goes into the audit log."""
        messages, config = list(prepared.messages), with_overrides(config, overrides)
        adapter = self.apply_adapter(prepared.namespace, prepared.adapter)
        config = replace(config, adapter=adapter.id if adapter else None)
        hook = self._hook(prepared)
        contrast, alpha = self._contrast(prepared, config)
        config = replace(config, faithfulness=alpha)
        if hook is None and contrast is None:
            stream = self.autopilot.stream(messages, config)
        else:
            backend = self.autopilot.backend
            stream = backend.stream_with_hook(messages, config, hook, contrast)
        return Stream(self._respond(prepared, stream, session_id, hook, adapter, alpha))

    def _contrast(
        self, prepared: ComposedRequest, config: GenerationConfig
    ) -> tuple[list[Message] | None, float]:
        """Context-aware decoding's second reading (the same prompt with the reference block
        left empty; persona, tone and examples kept) and its alpha: the request's
        `faithfulness`, else the task's. (None, 0.0), i.e. plain decoding, when no knowledge
        was taken, alpha is 0, or the backend has no logits to contrast (a remote one)."""
        taken = prepared.taken
        if taken is None or not taken.knowledge or not self.autopilot.backend.supports_contrast:
            return None, 0.0
        alpha = config.faithfulness or taken.profile.answer.faithfulness
        if alpha == 0:
            return None, 0.0
        return compose(taken, prepared.request, facts=False), alpha

    def _hook(self, prepared: ComposedRequest) -> RetrieveWhileDecoding | None:
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
        prepared: ComposedRequest,
        stream: Any,
        session_id: str | None = None,
        hook: RetrieveWhileDecoding | None = None,
        adapter: AdapterUse | None = None,
        faithfulness: float = 0.0,
    ) -> Generator[str, None, Response]:
        taken = prepared.taken
        # A task that may abstain shows nothing before the whole answer is judged: a streamed
        # answer is never retracted.
        hold = taken is not None and taken.profile.answer.abstain
        if not hold:
            yield from stream
        generation: Generation = stream.finish()
        used = _used(taken, hook.added if hook else ())
        knowledge = [*(taken.knowledge if taken else ()), *(hook.added if hook else ())]
        citations, abstained = self._judge(taken, generation.text, knowledge)
        prompt, memory_tokens = prepared.messages, prepared.memory_tokens
        if hook is not None and hook.messages is not None:  # knowledge was added mid-answer
            prompt = hook.messages
            memory_tokens = self.autopilot.count_tokens(prompt) - self.autopilot.count_tokens(
                prepared.request
            )
        response = Response(
            text=taken.profile.answer.abstain_text if taken and abstained else generation.text,
            namespace=prepared.namespace,
            task=prepared.task,
            used=used,
            tone=taken.tone if taken else None,
            prompt=prompt,
            generation=generation,
            retrieval_s=taken.retrieval_s if taken else 0.0,
            compose_s=prepared.compose_s,
            memory_tokens=memory_tokens,
            request=prepared.request,
            decode_searches=hook.searches if hook else 0,
            decode_retrieval_s=hook.retrieval_s if hook else 0.0,
            adapter=adapter,
            faithfulness=faithfulness,
            citations=citations,
            abstained=abstained,
        )
        if hold:
            yield response.text
        return self._audited(response, session_id)

    def _audited(self, response: Response, session_id: str | None) -> Response:
        if self.audit is None:
            return response
        return replace(response, audit_id=self.audit.record(response, session_id).id)

    # ---- the task's answer settings: extractive, abstention, short (AnswerSettings) --------
    def stream_answer(
        self,
        prepared: ComposedRequest,
        config: GenerationConfig | None = None,
        *,
        answer_mode: str | None = None,
        session_id: str | None = None,
        **overrides: Any,
    ) -> Stream[Response]:
        """Answer a prepared request as its task's answer settings say: the best span of the
        taken knowledge (extractive; `answer_mode` overrides the task's), "I don't know"
        without generating when the task abstains and nothing was taken, a short answer
        stopped after its first sentence, or else `stream_prepared`."""
        taken = prepared.taken
        settings = taken.profile.answer if taken else AnswerSettings()
        mode = answer_mode or settings.mode
        if mode not in ANSWER_MODES:
            raise ValidationError(
                f"answer_mode {mode!r} is not valid", hint=f"use one of: {', '.join(ANSWER_MODES)}"
            )
        config = answer_config(taken, with_overrides(config, overrides))
        if mode == "extractive":
            return self._stream_extractive(prepared, session_id)
        if settings.abstain and not (taken and taken.knowledge):
            text = settings.abstain_text
            return Stream(self._answer_without_model(prepared, text, mode, session_id))
        return self.stream_prepared(prepared, config, session_id=session_id)

    def _stream_extractive(
        self, prepared: ComposedRequest, session_id: str | None
    ) -> Stream[Response]:
        backend = self.autopilot.backend
        if not isinstance(backend, CandidateScorer):
            raise ConfigError(
                f"extractive answers need the local backend; {backend.name} has no logits",
                hint="use --backend transformers, or set the task's answer mode to generate",
            )
        taken = prepared.taken
        if taken is None or not taken.knowledge:  # nothing to extract from: say so
            answer = taken.profile.answer if taken else AnswerSettings()
            text = answer.abstain_text if answer.abstain else NOTHING_TO_EXTRACT
            return Stream(self._answer_without_model(prepared, text, "extractive", session_id))
        if taken.profile.answer.mode != "extractive":  # asked per request: ask for a few words
            answer = replace(taken.profile.answer, mode="extractive")
            taken = replace(taken, profile=replace(taken.profile, answer=answer))
            prepared = replace(
                self.recompose(prepared.namespace, prepared.task, taken, prepared.request),
                adapter=prepared.adapter,
            )
        return Stream(self._extract(prepared, backend, session_id))

    def _extract(
        self, prepared: ComposedRequest, scorer: CandidateScorer, session_id: str | None
    ) -> Generator[str, None, Response]:
        started = time.perf_counter()
        adapter = self.apply_adapter(prepared.namespace, prepared.adapter)
        taken = prepared.taken
        assert taken is not None
        questions = [m.content for m in prepared.request if m.role == "user"]
        found = extract(
            scorer, prepared.messages, taken.knowledge, questions[-1] if questions else "",
            self._embedder(), adapter=adapter.id if adapter else None,
        )  # fmt: skip
        span = found.span
        text = span.text if span else NOTHING_TO_EXTRACT
        timings = Timings(found.prompt_s, found.batch_s, time.perf_counter() - started)
        usage = Usage(found.prompt_tokens, found.span_tokens)
        generation = self._generation(text, usage, timings)
        response = self._response(
            prepared, generation, found.messages, adapter,
            citations=(span.citation(),) if span else (), abstained=span is None,
            answer_mode="extractive",
        )  # fmt: skip
        yield text
        return self._audited(response, session_id)

    def _answer_without_model(
        self, prepared: ComposedRequest, text: str, mode: str, session_id: str | None
    ) -> Generator[str, None, Response]:
        """The "I don't know" line (or "nothing to extract from"), no generation at all."""
        generation = self._generation(text, Usage(0, 0), Timings(0.0, 0.0, 0.0))
        response = self._response(
            prepared, generation, prepared.messages, None, abstained=True, answer_mode=mode
        )
        yield text
        return self._audited(response, session_id)

    def _generation(self, text: str, usage: Usage, timings: Timings) -> Generation:
        backend = self.autopilot.backend
        return Generation(text, "stop", usage, timings, backend.model_name, backend.name)

    def _response(
        self,
        prepared: ComposedRequest,
        generation: Generation,
        prompt: Sequence[Message],
        adapter: AdapterUse | None,
        *,
        citations: tuple[Citation, ...] = (),
        abstained: bool = False,
        answer_mode: str = "generate",
    ) -> Response:
        """A response not decoded by `stream_prepared` (extractive, or without the model)."""
        taken = prepared.taken
        count = self.autopilot.count_tokens
        return Response(
            text=generation.text,
            namespace=prepared.namespace,
            task=prepared.task,
            used=_used(taken, ()),
            tone=taken.tone if taken else None,
            prompt=tuple(prompt),
            generation=generation,
            retrieval_s=taken.retrieval_s if taken else 0.0,
            compose_s=prepared.compose_s,
            memory_tokens=count(prompt) - count(prepared.request) if taken else 0,
            request=prepared.request,
            adapter=adapter,
            citations=citations,
            abstained=abstained,
            answer_mode=answer_mode,
        )

    def _judge(
        self, taken: TakenRecords | None, text: str, knowledge: Sequence[Hit]
    ) -> tuple[tuple[Citation, ...], bool]:
        """The answer's citations, and whether the task abstains from it instead (nothing
        taken, or too little of it supported). An abstained answer cites nothing."""
        if taken is None:
            return (), False
        citations = cite(text, knowledge, self._embedder())
        settings = taken.profile.answer
        unsupported = not knowledge or supported_fraction(citations) < settings.min_support
        if settings.abstain and unsupported:
            return (), True
        return citations, False

    def _embedder(self) -> Embedder | None:
        """The store's embedder (citations compare meaning with it), if it has one."""
        embedder: Embedder | None = getattr(self.store, "embedder", None)
        return embedder


def _used(taken: TakenRecords | None, added: Sequence[Hit]) -> tuple[UsedRecord, ...]:
    """The provenance of a prompt: knowledge (then what was `added` while decoding),
    experiences, and the task's current emotion."""
    used = [used_record(h) for h in (taken.knowledge if taken else ())]
    used += [used_record(h, "decoding") for h in added]
    used += [used_record(h) for h in (taken.experiences if taken else ())]
    if taken and taken.emotion:  # not searched for: the task's current state, always used
        emotion = taken.emotion
        used.append(UsedRecord(emotion.id, emotion.kind, emotion.version, 1.0, 1.0))
    return tuple(used)


# The names of the first release, kept for one more.
Prepared = ComposedRequest
