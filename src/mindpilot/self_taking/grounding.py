"""Whether the taken knowledge is about what the question asks: the test a task that abstains
applies before answering, so a question about something never stored gets "I don't know"
instead of an answer read from the nearest unrelated record.

Search always returns the nearest records, even when none is about the question. What tells
them apart, on NarrativeQA questions about stored stories and about stories never stored
(bundled MiniLM store, 30 + 20 questions; `mindpilot bench qa`):

- the question's names (capitalised words after its first: characters, places, works): every
  name of a question about a stored story was in its taken records but for one misspelling;
  none was for 14 of the 20 questions about unstored stories;
- with no name to check, the best record's share of the question's content words and the top
  search similarity (answerable: similarity >= 0.43 or half the words; unanswerable: below).

A question is grounded when at least half its names occur in the taken records; without names,
when one record holds `MIN_WORDS` of its content words or the best similarity reaches
`MIN_SIMILARITY`. Measured there: 18 of 20 unanswerable questions not grounded, 1 of 30
answerable ones.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from mindpilot.mental_process.records import Hit
from mindpilot.self_taking.citations import content_words

MIN_NAMES = 0.5  # share of the question's names found in the taken records
MIN_WORDS = 0.5  # share of its content words in the best single record (no names to check)
MIN_SIMILARITY = 0.45  # or the best hit's similarity (no names to check)

_TOKEN = re.compile(r"[A-Za-z][\w'’-]*")
_POSSESSIVE = re.compile(r"['’]s?$")


def question_names(question: str) -> set[str]:
    """Lower-cased capitalised words after the first word ("Who helped Torrance's wife?" ->
    {"torrance"}); "I" and acronyms of one letter are no names."""
    words = _TOKEN.findall(question)
    names = {_POSSESSIVE.sub("", w).lower() for w in words[1:] if w[0].isupper() and len(w) > 1}
    return {n for n in names if n}


def grounded(question: str, knowledge: Sequence[Hit]) -> bool:
    """Whether `knowledge` (the records taken for `question`) is about what it asks; see the
    module docstring."""
    if not knowledge:
        return False
    texts = [h.record.search_text for h in knowledge]
    names = question_names(question)
    if names:
        joined = " ".join(texts).lower()
        found = sum(bool(re.search(rf"\b{re.escape(n)}\b", joined)) for n in names)
        return found / len(names) >= MIN_NAMES
    asked = content_words(question)
    if asked:
        best = max(len(asked & content_words(t)) / len(asked) for t in texts)
        if best >= MIN_WORDS:
            return True
    return max(h.similarity for h in knowledge) >= MIN_SIMILARITY
