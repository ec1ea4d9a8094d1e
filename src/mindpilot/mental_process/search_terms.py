"""What every store backend's search checks and reads from a query the same way: the
arguments, the caller's query vector, and the words a keyword search looks for."""

from __future__ import annotations

import re

import numpy as np

from mindpilot.errors import ValidationError
from mindpilot.mental_process.records import SEARCH_MODES

WORD = re.compile(r"\w+")
# Left out of keyword queries (words match with OR, so "how do I" would rank any record
# containing "do" first); a query made only of them keeps them.
STOPWORDS = frozenset(
    """
    a an and are as at be but by can do does for from how i if in into is it its me my no not of
    on or our so than that the their them then there these they this to was we were what when
    where which who why will with you your
    """.split()  # noqa: SIM905
)


def query_words(query: str) -> list[str]:
    """The distinct lower-cased words of a keyword query, stopwords left out unless the query
    has nothing else; in the order given."""
    words = list(dict.fromkeys(WORD.findall(query.lower())))
    return [w for w in words if w not in STOPWORDS] or words


def check_search(query: object, mode: object, k: object) -> None:
    """ValidationError for an empty query, an unknown mode or a k that is not a count."""
    if not isinstance(query, str) or not query.strip():
        raise ValidationError("the search query is empty", hint="give some words to search for")
    if mode not in SEARCH_MODES:
        raise ValidationError(f"unknown search mode {mode!r}", hint=f"use one of {SEARCH_MODES}")
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValidationError(f"k={k!r} must be a whole number >= 1")


def given_query_vector(given: np.ndarray, dim: int) -> np.ndarray:
    """A caller's query vector as a (dim,) float32 unit vector (an all-zero one stays zero)."""
    vector = np.asarray(given, dtype=np.float32).reshape(-1)
    if vector.shape != (dim,):
        raise ValidationError(f"query_vector has shape {np.shape(given)}, expected ({dim},)")
    norm = float(np.linalg.norm(vector))
    return vector / norm if norm > 0 else vector
