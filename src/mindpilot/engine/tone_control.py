"""The task's emotional state as a control: which tone, how strongly, through what, and how
the answer measured on it (`types.ToneUse`, in every response's provenance).

A state naming a measured tone (`mindpilot.tone`), of a task that asks for it (`answer.steer_tone`,
off by default: the tone costs the default model the answer's facts), is steered on a backend
that can (`autopilot/steering.py`, strength = intensity * FULL_STRENGTH) on top of the prompt
line, and every answer is scored; other states, other tasks, intensity 0 and remote backends get
the prompt line only, and the provenance says which and why.
"""

from __future__ import annotations

from dataclasses import replace

from mindpilot.autopilot.backend import Backend
from mindpilot.autopilot.steering import SteeringLibrary
from mindpilot.self_taking import TakenRecords
from mindpilot.tone import known_tone
from mindpilot.tone import lexicon as tone_lexicon
from mindpilot.tone.score import score
from mindpilot.types import GenerationConfig, ToneUse

# The steering strength at intensity 1: the vector (a mean activation difference, about half
# the residual stream's norm at the middle layer of the default model) times this. Chosen on a
# sweep (docs/tone.md): 2 makes the tone unmistakable; more breaks the text into loops.
FULL_STRENGTH = 2.0
# An emotion given only as a task's default_emotion has no record, hence no intensity.
DEFAULT_INTENSITY = 0.5


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


def configured(use: ToneUse | None, config: GenerationConfig) -> GenerationConfig:
    """The decoding config with the tone's steering on (when the plan steers)."""
    if use is None or use.control != "steering":
        return config
    return replace(config, steering=use.vector, steering_strength=use.strength)


def measured(use: ToneUse | None, text: str) -> ToneUse | None:
    """`use` with the answer's score on the tone (when it names a measured tone and the VADER
    lexicon is installed; else unscored, which the log shows as such)."""
    tone = known_tone(use.measured) if use is not None else None
    if use is None or tone is None or not tone_lexicon.available():
        return use
    scores = score(text)
    return replace(use, score=round(scores.value(tone.dimension), 4), carried=scores.carries(tone))
