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
from mindpilot.mental_process.records import Hit, TaskProfile
from mindpilot.mental_process.store import Store, open_store
from mindpilot.self_taking import TakenRecords, compose, take_from_mental_process, task_profile
from mindpilot.self_taking.while_decoding import RetrieveWhileDecoding
from mindpilot.types import (
    AdapterUse,
    Generation,
    GenerationConfig,
    Message,
    Prompt,
    Response,
    Stream,
    UsedRecord,
    as_messages,
    with_overrides,
)

if TYPE_CHECKING:
    from mindpilot.monitor.audit import AuditLog


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
        if hook is None:
            stream = self.autopilot.stream(messages, config)
        else:
            stream = self.autopilot.backend.stream_with_hook(messages, config, hook)
        return Stream(self._respond(prepared, stream, session_id, hook, adapter))

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
    ) -> Generator[str, None, Response]:
        yield from stream
        generation: Generation = stream.finish()
        taken = prepared.taken
        used = [used_record(h) for h in (taken.knowledge if taken else ())]
        used += [used_record(h, "decoding") for h in (hook.added if hook else ())]
        used += [used_record(h) for h in (taken.experiences if taken else ())]
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
            adapter=adapter,
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


# The names of the first release, kept for one more.
Prepared = ComposedRequest
