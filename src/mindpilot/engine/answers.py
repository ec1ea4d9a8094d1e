"""The task's answer settings (`AnswerSettings`), applied by the engine: extractive answers
cited by character offsets, "I don't know" without generating, short answers."""

from __future__ import annotations

import time
from collections.abc import Generator, Sequence
from dataclasses import replace
from typing import Any

from mindpilot.adapters.builtin import READER_ID
from mindpilot.autopilot.span_scoring import CandidateScorer
from mindpilot.engine.generation import GenerationPaths
from mindpilot.engine.requests import ComposedRequest, used_records
from mindpilot.errors import ConfigError, ValidationError
from mindpilot.mental_process.records import ANSWER_MODES, AnswerSettings
from mindpilot.self_taking.compose import answer_config
from mindpilot.self_taking.extractive import extract
from mindpilot.self_taking.grounding import grounded
from mindpilot.types import (
    AdapterUse,
    Citation,
    Generation,
    GenerationConfig,
    Message,
    Response,
    Stream,
    Timings,
    Usage,
    with_overrides,
)

# An extractive answer with no knowledge taken, when the task does not abstain.
NOTHING_TO_EXTRACT = "Nothing in memory to extract an answer from."


class AnswerPaths(GenerationPaths):
    """`stream_answer`: the answer modes on top of generation."""

    def stream_answer(
        self,
        prepared: ComposedRequest,
        config: GenerationConfig | None = None,
        *,
        answer_mode: str | None = None,
        session_id: str | None = None,
        **overrides: Any,
    ) -> Stream[Response]:
        """Answer a prepared request as its task's answer settings say: "I don't know" without
        the model when the task abstains and the taken knowledge is not about the question
        (`self_taking.grounding`), the best span of the taken knowledge (extractive;
        `answer_mode` overrides the task's), a short answer
        stopped after its first sentence, or else `stream_prepared`."""
        taken = prepared.taken
        settings = taken.profile.answer if taken else AnswerSettings()
        mode = answer_mode or settings.mode
        if mode not in ANSWER_MODES:
            raise ValidationError(
                f"answer_mode {mode!r} is not valid", hint=f"use one of: {', '.join(ANSWER_MODES)}"
            )
        config = answer_config(taken, with_overrides(config, overrides))
        if settings.abstain and not grounded(_question(prepared), taken.knowledge if taken else ()):
            text = settings.abstain_text
            return Stream(self._answer_without_model(prepared, text, mode, session_id))
        if mode == "extractive":
            return self._stream_extractive(prepared, session_id)
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
        found = extract(
            scorer, prepared.messages, taken.knowledge, _question(prepared),
            self._embedder(), adapter=adapter.id if adapter else None,
            examples=prepared.adapter != READER_ID,  # the reader has learned the form
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
            used=used_records(taken, ()),
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


def _question(prepared: ComposedRequest) -> str:
    """The user's last turn: the question the answer settings judge the knowledge by."""
    questions = [m.content for m in prepared.request if m.role == "user"]
    return questions[-1] if questions else ""
