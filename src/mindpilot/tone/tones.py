"""The measured tones: name, aliases, the score that says an answer carries it, and the
contrastive sentences its steering vector is computed from."""

from __future__ import annotations

from dataclasses import dataclass

from mindpilot.errors import ValidationError


@dataclass(frozen=True)
class Tone:
    """One tone. An answer carries it when `ToneScores.value(dimension)` is on the tone's
    side of `threshold` (above it, or below it when `low`)."""

    name: str
    dimension: str  # a field of ToneScores
    threshold: float
    aliases: tuple[str, ...]
    # Sentences in the tone; each is put before the same plain support answers, and the
    # steering vector is the mean activation difference (tone + answer) - (answer).
    openers: tuple[str, ...]
    low: bool = False  # the tone is the low end of its dimension (urgency on calm)

    def carried_by(self, value: float) -> bool:
        return value < self.threshold if self.low else value > self.threshold


TONES: dict[str, Tone] = {
    t.name: t
    for t in (
        Tone(
            "empathy", "empathy", 0.0,
            ("empathy", "empathetic", "empathic", "warmth", "warm", "caring", "compassion"),
            (
                "I'm so sorry about this, I completely understand how frustrating it must be.",
                "I'm really sorry for the trouble, and I appreciate your patience.",
                "I understand how stressful this is, and I'm here to help you.",
                "That sounds difficult, and I'm sorry you had to deal with it.",
            ),
        ),
        Tone(
            "enthusiasm", "enthusiasm", 0.0,
            ("enthusiasm", "enthusiastic", "excitement", "excited", "cheerful", "upbeat"),
            (
                "Great question, I'm excited to help with this!",
                "Wonderful, I'd love to help you with that!",
                "Awesome, this is one of my favourite things to help with!",
                "Fantastic, I'm delighted you asked!",
            ),
        ),
        Tone(
            "formality", "formality", 0.5,
            ("formality", "formal", "professional", "polite"),
            (
                "Thank you for contacting us; we sincerely appreciate your inquiry.",
                "We kindly ask you to note the following information regarding your request.",
                "Please allow us to assist you with this matter.",
                "We are pleased to provide the requested information.",
            ),
        ),
        Tone(
            "calm", "calm", 0.5,
            ("calm", "calmness", "reassurance", "reassuring", "patience", "patient"),
            (
                "Don't worry, there is no rush; take your time.",
                "Rest assured, everything is fine, and we can go through it step by step.",
                "It's okay, this is easy to sort out calmly.",
                "No problem at all; relax, we will handle it gently.",
            ),
        ),
        Tone(
            "urgency", "calm", 0.5,
            ("urgency", "urgent", "alert"),
            (
                "This is urgent: please act immediately!",
                "Right now, as soon as possible, do the following!",
                "Critical: you must do this immediately!",
                "Hurry, this cannot wait!",
            ),
            low=True,
        ),
        Tone(
            "positivity", "sentiment", 0.05,
            ("positivity", "positive", "optimism", "optimistic", "happy", "joy"),
            (
                "Good news, this is a great and happy outcome!",
                "Everything is going well, and the result is excellent.",
                "This is a lovely, positive result for you.",
                "I'm happy to share some good news.",
            ),
        ),
    )
}  # fmt: skip
_BY_ALIAS = {alias: tone for tone in TONES.values() for alias in tone.aliases}


def known_tone(state: str | None) -> Tone | None:
    """The tone an emotion state names (by name or alias, any case), or None."""
    if not state:
        return None
    return _BY_ALIAS.get(state.strip().lower())


def require_tone(state: str) -> Tone:
    """The tone `state` names; a ValidationError listing the known ones if none."""
    tone = known_tone(state)
    if tone is None:
        raise ValidationError(
            f"{state!r} is not a measured tone",
            hint=f"use one of: {', '.join(TONES)} (or an alias, e.g. warmth, formal, urgent)",
        )
    return tone


# Plain support answers the tone sentences are put before (steering vectors): facts stated
# flatly, so the vector carries the tone and not "leave the facts out".
PLAIN_ANSWERS: tuple[tuple[str, str], ...] = (
    ("Where is my order?", "Your order ships within 2 days."),
    ("I was charged twice.", "The duplicate charge is refunded in 3 days."),
    ("How do I reset my password?", "You can reset it from the Settings page."),
    ("The app keeps crashing.", "Updating to version 4.2 fixes the crash."),
    ("Can I get a refund?", "Refunds are available within 30 days."),
    ("My package arrived damaged.", "A replacement is sent today."),
)
