"""Generation for a composed request: the decode loop with retrieval during decoding and
context-aware decoding, then the answer's provenance, citations and abstention verdict."""

from __future__ import annotations

from collections.abc import Generator, Sequence
from dataclasses import dataclass, replace
from typing import Any

from mindpilot.engine import tone_control
from mindpilot.engine.base import EngineBase
from mindpilot.engine.requests import ComposedRequest, used_records
from mindpilot.mental_process.embed import Embedder
from mindpilot.mental_process.records import Hit
from mindpilot.self_taking import TakenRecords, compose
from mindpilot.self_taking.citations import cite, supported_fraction
from mindpilot.self_taking.while_decoding import RetrieveWhileDecoding
from mindpilot.types import (
    AdapterUse,
    Citation,
    Generation,
    GenerationConfig,
    Message,
    Response,
    Stream,
    ToneUse,
    with_overrides,
)


@dataclass
class ToneOutcome:
    """What a steered request's opening turned out to be (filled while the stream is read)."""

    use: ToneUse | None
    opened: tone_control.Opening | None = None


class GenerationPaths(EngineBase):
    """`stream_prepared` and what it needs."""

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
        tone = tone_control.plan(prepared.taken, self.autopilot.backend, self.steering_library)
        # made now, not when read: a prompt too long for the model fails before anything
        # streams (a steered answer reads its opening first, then a stream like this one)
        stream = self._decode(messages, config, hook, contrast)
        if tone is None or tone.control != "steering":
            return Stream(self._respond(prepared, stream, session_id, hook, adapter, alpha, tone))
        toned = ToneOutcome(tone)
        pieces = Stream(self._toned(prepared, messages, config, hook, contrast, toned))
        return Stream(self._respond(prepared, pieces, session_id, hook, adapter, alpha, toned))

    def _decode(
        self,
        messages: list[Message],
        config: GenerationConfig,
        hook: RetrieveWhileDecoding | None,
        contrast: list[Message] | None,
    ) -> Stream[Generation]:
        if hook is None and contrast is None:
            return self.autopilot.stream(messages, config)
        return self.autopilot.backend.stream_with_hook(messages, config, hook, contrast)

    def _toned(
        self,
        prepared: ComposedRequest,
        messages: list[Message],
        config: GenerationConfig,
        hook: RetrieveWhileDecoding | None,
        contrast: list[Message] | None,
        toned: ToneOutcome,
    ) -> Generator[str, None, Generation]:
        """The steered opening sentence, then the rest of the answer decoded without the
        vector (`tone_control`), when the stream is read (a closed stream decodes nothing).
        Returns the rest's Generation; the opening goes into `toned`."""
        retry = prepared.taken is not None and prepared.taken.profile.answer.retry_tone
        toned.opened, toned.use = tone_control.opening(
            self.autopilot, messages, config, toned.use, retry=retry
        )
        if toned.opened is not None:
            yield toned.opened.text + " "
        left = tone_control.after_opening(toned.opened, config)
        rest = self._decode(messages, left, hook, contrast)
        yield from rest
        return rest.finish()

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
        tone: ToneUse | ToneOutcome | None = None,
    ) -> Generator[str, None, Response]:
        taken = prepared.taken
        # A task that may abstain shows nothing before the whole answer is judged: a streamed
        # answer is never retracted.
        hold = taken is not None and taken.profile.answer.abstain
        if not hold:
            yield from stream
        generation: Generation = stream.finish()
        opened = tone.opened if isinstance(tone, ToneOutcome) else None
        if isinstance(tone, ToneOutcome):
            tone = tone.use
        used = used_records(taken, hook.added if hook else ())
        knowledge = [*(taken.knowledge if taken else ()), *(hook.added if hook else ())]
        # the opening (the tone) is not what records must support: only the rest is judged
        citations, abstained = self._judge(taken, generation.text, knowledge)
        if opened is not None:
            generation, citations = with_opening(opened, generation, citations)
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
            hop_searches=taken.hops if taken else 0,
            decode_retrieval_s=hook.retrieval_s if hook else 0.0,
            adapter=adapter,
            faithfulness=faithfulness,
            tone_use=tone_control.measured(tone, generation.text),
            citations=citations,
            abstained=abstained,
        )
        if hold:
            yield response.text
        return self._audited(response, session_id)

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


def with_opening(
    opened: tone_control.Opening, generation: Generation, citations: tuple[Citation, ...]
) -> tuple[Generation, tuple[Citation, ...]]:
    """The whole answer: the steered opening, a space, then the rest (citations moved along,
    tokens and seconds of both decodes counted)."""
    shift = len(opened.text) + 1
    moved = tuple(replace(c, start=c.start + shift, end=c.end + shift) for c in citations)
    usage = replace(
        generation.usage, completion_tokens=generation.usage.completion_tokens + opened.tokens
    )
    timings = replace(
        generation.timings,
        decode_s=generation.timings.decode_s + opened.timings.decode_s,  # its prefill too
        first_token_s=opened.timings.first_token_s,
    )
    text = f"{opened.text} {generation.text}"
    return replace(generation, text=text, usage=usage, timings=timings, logprobs=()), moved
