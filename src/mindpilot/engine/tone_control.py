"""The task's emotional state as a control: which tone, how strongly, through what, and how
the answer measured on it (`types.ToneUse`, in every response's provenance).

A state naming a measured tone (`mindpilot.tone`), of a task that asks for it (`answer.steer_tone`,
off by default), is steered on a backend that can (`autopilot/steering.py`, strength = intensity
* FULL_STRENGTH) on top of the prompt line, and every answer is scored; other states, other
tasks, intensity 0 and remote backends get the prompt line only, and the provenance says which
and why.

Only the answer's opening sentence is steered, and the rest is decoded from the prompt as if
the opening were not there. Measured (docs/tone.md): steering the whole answer carries the tone
but the default model then never reaches the fact it was asked for (it loops on apologies),
and steering the first tokens then going on after them does the same; an opening decoded apart
carries the tone and leaves the answer's facts as the prompt alone gives them.
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from mindpilot.autopilot.backend import Backend
from mindpilot.autopilot.steering import SteeringLibrary
from mindpilot.self_taking import TakenRecords
from mindpilot.tone import known_tone
from mindpilot.tone import lexicon as tone_lexicon
from mindpilot.tone.score import score
from mindpilot.types import GenerationConfig, Message, Timings, ToneUse

if TYPE_CHECKING:
    from mindpilot.autopilot import Autopilot

# The steering strength at intensity 1: the vector (a mean activation difference, about half
# the residual stream's norm at the middle layer of the default model) times this. Chosen on a
# sweep (docs/tone.md): 2 makes the tone unmistakable; more breaks the text into loops.
FULL_STRENGTH = 2.0
# An emotion given only as a task's default_emotion has no record, hence no intensity.
DEFAULT_INTENSITY = 0.5
# The opening sentence is decoded within this many tokens (and half the answer's budget at
# most); one that does not end by then is dropped and the answer gets the prompt line only.
OPENING_TOKENS = 24
# With the task's retry_tone, an opening that misses the tone is decoded again this much
# stronger (one retry: each costs a short decode before anything is shown).
RETRY_FACTOR = 1.5
# A sentence ends at . ! or ? followed by white space (seen when the next token arrives).
_SENTENCE_END = re.compile(r"[.!?]+(?=\s)")


@dataclass(frozen=True)
class Opening:
    """The answer's first sentence, decoded with the steering vector, and what it cost."""

    text: str
    tokens: int
    timings: Timings


def plan(
    taken: TakenRecords | None, backend: Backend, library: SteeringLibrary | None
) -> ToneUse | None:
    """How the request's tone is applied; None when it asks for none."""
    if taken is None or not taken.tone:
        return None
    intensity = taken.emotion.intensity if taken.emotion else DEFAULT_INTENSITY
    tone = known_tone(taken.tone)
    use = ToneUse(taken.tone, intensity, "prompt", measured=tone.name if tone else None)
    if tone is None:
        return replace(use, note="not a measured tone: the prompt line only")
    if not taken.profile.answer.steer_tone:
        return replace(
            use, note="steering is off for this task (--steer-tone): the prompt line only"
        )
    if not backend.supports_steering or library is None:
        return replace(use, note=f"the {backend.name} backend gets prompt guidance only")
    if intensity == 0:
        return replace(use, note="intensity 0: the prompt line only")
    vector = backend.steering_vector(tone, library)
    return replace(use, control="steering", vector=vector.id, strength=intensity * FULL_STRENGTH)


def opening(
    autopilot: Autopilot,
    messages: Sequence[Message],
    config: GenerationConfig,
    use: ToneUse | None,
    *,
    retry: bool = False,
) -> tuple[Opening | None, ToneUse | None]:
    """The steered opening sentence of the answer (None when the plan does not steer, the
    answer must be JSON or carry log-probabilities, or no sentence ended in time), and `use`
    with what happened. It is decoded whole before anything streams: a half sentence in the
    tone is never shown. With `retry` (the task's `retry_tone`), an opening the scorer says
    misses the tone is decoded once more at RETRY_FACTOR times the strength."""
    if use is None or use.control != "steering":
        return None, use
    budget = min(OPENING_TOKENS, config.max_new_tokens // 2)
    if config.json_schema is not None or config.grammar is not None or config.logprobs is not None:
        return None, _prompt_only(use, "structured or log-prob answers are not steered")
    if budget < 4:
        return None, _prompt_only(use, f"max tokens {config.max_new_tokens} leave no room")
    steered = replace(
        config, steering=use.vector, steering_strength=use.strength, max_new_tokens=budget, stop=()
    )
    opened = _first_sentence(autopilot, messages, steered)
    if retry and not _carries(opened, use):
        stronger = replace(steered, steering_strength=min(10.0, use.strength * RETRY_FACTOR))
        again = _first_sentence(autopilot, messages, stronger)
        if _carries(again, use):
            note = f"the first opening missed the tone; decoded again at x{RETRY_FACTOR:g}"
            use = replace(use, strength=stronger.steering_strength, note=note)
            opened = again
    if opened is None:
        return None, _prompt_only(use, f"no opening sentence within {budget} tokens")
    return opened, replace(use, opening=opened.text)


def _first_sentence(
    autopilot: Autopilot, messages: Sequence[Message], config: GenerationConfig
) -> Opening | None:
    """The first whole sentence `config` decodes (the decode stops there), or None."""
    started, text = time.perf_counter(), ""
    stream = autopilot.stream(list(messages), config)
    for piece in stream:
        text += piece
        if _SENTENCE_END.search(text):
            break
    stream.close()  # the rest of the steered decode is not needed
    end = _SENTENCE_END.search(text)
    if end is None:
        return None
    sentence = text[: end.end()].strip()
    spent = time.perf_counter() - started
    return Opening(sentence, autopilot.count_text(sentence), Timings(0.0, spent, spent))


def _carries(opened: Opening | None, use: ToneUse) -> bool:
    """Whether the opening carries the tone (unscorable without the lexicon: taken as is)."""
    tone = known_tone(use.measured) if use.measured else None
    if opened is None or tone is None or not tone_lexicon.available():
        return opened is not None
    return score(opened.text).carries(tone)


def after_opening(opened: Opening | None, config: GenerationConfig) -> GenerationConfig:
    """The budget left for the rest of the answer (decoded without the vector)."""
    if opened is None:
        return config
    return replace(config, max_new_tokens=max(1, config.max_new_tokens - opened.tokens))


def _prompt_only(use: ToneUse, why: str) -> ToneUse:
    return replace(
        use, control="prompt", vector=None, strength=0.0, note=f"{why}: the prompt line only"
    )


def measured(use: ToneUse | None, text: str) -> ToneUse | None:
    """`use` with the answer's score on the tone (when it names a measured tone and the VADER
    lexicon is installed; else unscored, which the log shows as such)."""
    tone = known_tone(use.measured) if use is not None else None
    if use is None or tone is None or not tone_lexicon.available():
        return use
    scores = score(text)
    return replace(use, score=round(scores.value(tone.dimension), 4), carried=scores.carries(tone))
