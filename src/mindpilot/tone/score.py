"""Score the tone of a text: sentiment from the VADER lexicon, and marker phrases for empathy,
enthusiasm, formality and calm vs urgency.

Sentiment follows VADER's rules (Hutto & Gilbert 2014) on its own lexicon: each word's valence,
flipped by a negation in the three words before it, raised by boosters ("very") and capitals,
the clause after "but" weighted up, exclamation marks adding emphasis, and the sum normalised to
a compound score in (-1, 1). Its agreement with people is measured on the 10,605 rated
movie-review sentences that ship in the same sdist (`mindpilot bench quality`, tone_control).

The other dimensions count marker phrases written for this module (no labelled data for them
ships in a package; the markers are listed here, so what "empathy" means is readable).
Marker counts map to (0, 1) as hits / (hits + 1); opposing markers (formal vs informal, calm vs
urgent) to 0.5 + 0.5 * (a - b) / (a + b + 1), so a text with neither is 0.5.
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass

from mindpilot.tone.lexicon import vader_valences
from mindpilot.tone.tones import Tone

_WORD = re.compile(r"[A-Za-z']+|[:;=8][\-o*']?[()\[\]dDpP/\\|]")
_NEGATIONS = frozenset(
    ["not", "no", "never", "none", "nobody", "nothing", "neither", "nor", "cannot", "without"]
)
_BOOSTERS = frozenset(
    [
        "very",
        "really",
        "so",
        "extremely",
        "absolutely",
        "completely",
        "totally",
        "truly",
        "incredibly",
        "deeply",
        "especially",
        "particularly",
        "highly",
        "most",
    ]
)
_NEGATION_SCALAR = -0.74  # VADER's constants
_BOOST = 0.293
_CAPS_BOOST = 0.733
_ALPHA = 15.0

EMPATHY = (
    "sorry", "apologize", "apologise", "apologies", "understand", "frustrating", "frustration",
    "i hear you", "hear that", "must be", "appreciate your patience", "thank you for your patience",
    "i know how", "that sounds", "here to help", "here for you", "difficult", "stressful",
    "inconvenience", "we're sorry", "feel",
)  # fmt: skip
ENTHUSIASM = (
    "great", "glad", "happy to", "excited", "exciting", "love", "wonderful", "amazing",
    "fantastic", "awesome", "delighted", "thrilled", "excellent", "perfect", "absolutely",
)  # fmt: skip
FORMAL = (
    "please", "kindly", "regards", "sincerely", "assist", "assistance", "therefore", "however",
    "regarding", "inquiry", "ensure", "furthermore", "we are pleased", "thank you for",
    "we apologize", "would you", "may i", "shall", "accordingly", "provide",
)  # fmt: skip
INFORMAL = (
    "hey", "yeah", "gonna", "wanna", "cool", "awesome", "lol", "ok", "okay", "stuff", "kinda",
    "guys", "btw", "yep", "nope", "super",
)  # fmt: skip
CALM = (
    "no rush", "take your time", "don't worry", "do not worry", "rest assured", "calm",
    "step by step",
    "gently", "relax", "whenever you're ready", "no problem", "it's okay", "it is okay", "easy",
    "simply", "fine", "no need to worry",
)  # fmt: skip
URGENT = (
    "immediately", "urgent", "urgently", "right now", "asap", "as soon as possible", "hurry",
    "quickly", "critical", "must", "now", "cannot wait", "at once", "warning", "emergency",
)  # fmt: skip


@dataclass(frozen=True)
class ToneScores:
    """A text's tone. sentiment in (-1, 1) (VADER compound); the others in [0, 1)."""

    sentiment: float
    empathy: float
    enthusiasm: float
    formality: float  # 0.5 = neither formal nor informal markers
    calm: float  # 0.5 = neither; below: urgency

    def value(self, dimension: str) -> float:
        return float(getattr(self, dimension))

    def carries(self, tone: Tone) -> bool:
        return tone.carried_by(self.value(tone.dimension))

    def to_dict(self) -> dict[str, float]:
        return asdict(self)


def score(text: str) -> ToneScores:
    """The tone of `text` (needs the VADER lexicon: `lexicon.available()`)."""
    lowered = _normalised(text)
    exclaims = min(text.count("!"), 4)
    informal = _count(lowered, INFORMAL) + _contractions(lowered) + exclaims
    urgent = _count(lowered, URGENT) + exclaims + _shouted(text)
    return ToneScores(
        sentiment=sentiment(text),
        empathy=_saturate(_count(lowered, EMPATHY)),
        enthusiasm=_saturate(_count(lowered, ENTHUSIASM) + exclaims),
        formality=_balance(_count(lowered, FORMAL), informal),
        calm=_balance(_count(lowered, CALM), urgent),
    )


def sentiment(text: str) -> float:
    """VADER's compound score of `text`, in (-1, 1); 0 for a text with no rated word."""
    valences = vader_valences()
    total = 0.0
    for clause_weight, clause in _clauses(text):
        words = _WORD.findall(clause)
        for i, word in enumerate(words):
            valence = valences.get(word.lower())
            if valence is None or word.lower() in _BOOSTERS:
                continue
            valence += _emphasis(words, i, valence)
            if any(
                w.lower() in _NEGATIONS or w.lower().endswith("n't")
                for w in words[max(0, i - 3) : i]
            ):
                valence *= _NEGATION_SCALAR
            total += valence * clause_weight
    if total:
        total += math.copysign(0.292 * min(text.count("!"), 4), total)
    return total / math.sqrt(total * total + _ALPHA)


def _emphasis(words: list[str], i: int, valence: float) -> float:
    """Boosters in the two words before, and a word in capitals among mixed-case text."""
    sign = 1.0 if valence > 0 else -1.0
    extra = sum(_BOOST for w in words[max(0, i - 2) : i] if w.lower() in _BOOSTERS)
    word = words[i]
    if word.isupper() and len(word) > 1 and not all(w.isupper() for w in words):
        extra += _CAPS_BOOST
    return sign * extra


def _clauses(text: str) -> list[tuple[float, str]]:
    """VADER weights the words before "but" by 0.5 and after it by 1.5."""
    parts = re.split(r"\bbut\b", text, maxsplit=1, flags=re.IGNORECASE)
    if len(parts) == 1:
        return [(1.0, text)]
    return [(0.5, parts[0]), (1.5, parts[1])]


def _normalised(text: str) -> str:
    return " " + re.sub(r"\s+", " ", text.lower().replace("\u2019", "'")) + " "


def _count(lowered: str, phrases: tuple[str, ...]) -> int:
    return sum(len(re.findall(rf"(?<![a-z']){re.escape(p)}(?![a-z])", lowered)) for p in phrases)


def _contractions(lowered: str) -> int:
    return len(re.findall(r"[a-z](?:n't|'m|'re|'ll|'ve|'d)\b", lowered))


def _shouted(text: str) -> int:
    return len(re.findall(r"\b[A-Z]{3,}\b", text))


def _saturate(hits: int) -> float:
    return hits / (hits + 1)


def _balance(toward: int, away: int) -> float:
    return 0.5 + 0.5 * (toward - away) / (toward + away + 1)
