"""Tone: the emotional states mindpilot can measure and steer, and how a text is scored.

An `Emotion` record's state is free text ("empathy", "cheerful", ...). A state that names one of
`TONES` (or an alias) is *measured* (every answer gets a score, `score.py`) and *controlled* on
the local backend (a steering vector, `autopilot/steering.py`); any other state still becomes
the prompt line, and nothing more. This package reads only packaged data and imports nothing
of mindpilot above `config`, so the Autopilot, the engine and the monitor can all use it.
"""

from mindpilot.tone.tones import TONES, Tone, known_tone, require_tone

__all__ = ["TONES", "Tone", "known_tone", "require_tone"]
