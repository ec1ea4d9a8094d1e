"""What kind of answer a question asks for (a time, a number, a person, a place), and whether a
span of a record is one: the prior that extractive answers put before the model's likelihood.

The bundled 135M model finds a plausible answer likelier than the one the record states: asked
when an act was passed, it picks the year it remembers over the year the stored passage gives,
and a "where" question gets "during glacial times". Only spans of the kind asked compete
when the chosen sentences hold one (a classic of extractive QA: answer-type matching).

The wh-word that says the kind is the one that opens the question, or that follows a
self-correction ("What has er where does the Rhine end?", "Who founded GTE no sorry Telnet?"
are questions as people type or say them); a "who" after a noun ("the man who") is not it.
"""

from __future__ import annotations

import re

KINDS = ("time", "number", "person", "place")
_WORD = re.compile(r"[\w']+")
_WH = frozenset({"who", "whom", "whose", "where", "when", "what", "which", "how"})
# words after which a wh-word starts the question again (a correction)
_RESTART = frozenset({
    "er", "erm", "um", "umm", "uh", "ah", "ahh", "oh", "rather", "no", "sorry", "mean",
    "meant", "that", "or", "wait", "actually", "scratch", "instead", "i", "in", "first",
})  # fmt: skip
_TIME_NOUNS = frozenset({
    "year", "years", "century", "decade", "date", "month", "day", "time", "period", "era",
})  # fmt: skip
_HOW_NUMBER = frozenset({
    "many", "much", "long", "old", "far", "big", "large", "tall", "high", "often", "fast",
    "deep", "wide", "heavy",
})  # fmt: skip
_NUMBER_NOUNS = frozenset({"number", "percentage", "percent", "amount", "population", "size"})
_PLACE_NOUNS = frozenset({
    "country", "city", "state", "river", "region", "area", "island", "town", "nation",
    "continent", "province", "county", "capital", "sea", "lake", "mountain", "place",
    "location", "village", "street",
})  # fmt: skip
_PERSON_NOUNS = frozenset({
    "person", "man", "woman", "president", "king", "queen", "emperor", "scientist", "author",
    "writer", "leader", "ruler", "general", "character", "painter", "composer", "poet",
})  # fmt: skip

_TIME = re.compile(
    r"\b(1\d{3}|20\d{2})s?\b|\b\d{1,2}(st|nd|rd|th)\b|\bcentury\b|\b(January|February|March|"
    r"April|May|June|July|August|September|October|November|December)\b",
    re.IGNORECASE,
)
_NUMBER = re.compile(
    r"\d|\b(one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|"
    r"forty|fifty|hundred|thousand|million|billion|dozen|half)\b",
    re.IGNORECASE,
)
_NAME_LINKS = frozenset({"of", "de", "von", "van", "da", "der", "la", "du", "le", "and", "the"})
# capitalised at a sentence's start, yet no name: "In October", "During the war"
_NOT_NAMES = frozenset({
    "in", "on", "at", "by", "for", "from", "to", "with", "during", "after", "before", "since",
    "until", "a", "an", "this", "that", "these", "those", "it", "he", "she", "they", "we",
    "his", "her", "its", "their", "there", "when", "while", "as", "but", "and", "or", "if",
    "today", "january", "february", "march", "april", "may", "june", "july", "august",
    "september", "october", "november", "december", "monday", "tuesday", "wednesday",
    "thursday", "friday", "saturday", "sunday",
})  # fmt: skip
_NAME_WORD = re.compile(r"[\w'’.-]+")


def asked_kind(question: str) -> str | None:
    """One of KINDS, or None when the question asks for something else ("what", "why")."""
    words = _clause(question)
    if not words:
        return None
    head, nxt = words[0], words[1] if len(words) > 1 else ""
    which = head in ("what", "which")  # "what year", "which country": the noun says
    if head == "when" or (which and nxt in _TIME_NOUNS):
        return "time"
    if (head == "how" and nxt in _HOW_NUMBER) or (which and nxt in _NUMBER_NOUNS):
        return "number"
    if head in ("who", "whom", "whose") or (which and nxt in _PERSON_NOUNS):
        return "person"
    if head == "where" or (which and nxt in _PLACE_NOUNS):
        return "place"
    return None


def asking_clause(question: str) -> str:
    """The question from the wh-word that asks it: what a self-correction left standing
    ("What has er where does the Rhine end?" -> "where does the rhine end")."""
    return " ".join(_clause(question))


def is_kind(kind: str | None, text: str) -> bool:
    """Whether `text` (a candidate span) is an answer of `kind` (any text is, for None)."""
    if kind == "time":
        return bool(_TIME.search(text))
    if kind == "number":
        return bool(_NUMBER.search(text))
    if kind in ("person", "place"):
        return _is_name(text)
    return True


def _clause(question: str) -> list[str]:
    """The question's words from the wh-word that asks it (see the module docstring)."""
    words = _WORD.findall(question.lower())
    start = None
    for i, word in enumerate(words):
        if word in _WH and (i == 0 or words[i - 1] in _RESTART):
            start = i
    if start is None:  # "In what year ...", "Kublai Khan ruled where?": the first wh-word
        start = next((i for i, word in enumerate(words) if word in _WH), None)
    return words[start:] if start is not None else []


def _is_name(text: str) -> bool:
    """Capitalised words, linked by "of", "de"...: "Colonel Monckton", "Hoek van Holland"."""
    words = _NAME_WORD.findall(text)
    if not words or words[0].lower() in _NAME_LINKS | _NOT_NAMES:
        return False
    return all(w[0].isupper() or w.lower() in _NAME_LINKS for w in words)
