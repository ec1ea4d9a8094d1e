"""Citations for a generated answer: each sentence attributed to the taken knowledge record
(and the sentence within it) that supports it best, or marked unsupported.

Cheap by design, no extra generation: one embedding call (the store's embedder; record
sentences are cached across requests) and word overlap. A sentence's support by a record
sentence is the mean of
- the cosine similarity of their embeddings (meaning), and
- the share of the answer sentence's content words found in the record sentence (wording),
halved when the answer sentence states a number the record sentence does not have (the
typical invention: "a warranty of 3 years" next to a record saying nine). A sentence is
supported when its best support reaches `SUPPORTED_AT`.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from mindpilot.mental_process.embed import Embedder
from mindpilot.mental_process.records import Hit, Knowledge
from mindpilot.types import Citation

# Calibrated with MiniLM on 45 sentences of the bundled model's answers to questions about
# stored made-up facts: copied or reworded record sentences scored 0.77-1.0 (one 0.535), a
# record's fact with an invented detail added 0.63-0.77, a wrong number or an unrelated claim
# 0.0-0.50, talk about the question ("The reference information is ...") 0.0-0.57. 0.55 keeps
# the wrong claims out; a sentence that adds a detail to a supported fact still passes.
SUPPORTED_AT = 0.55
NOVEL_NUMBER_FACTOR = 0.5
# Record sentences kept embedded across requests (records are taken again and again).
CACHE_SIZE = 4096

_SENTENCE = re.compile(r"[^\s].*?(?:[.!?]+(?=\s|$)|\n|$)", re.DOTALL)
_WORD = re.compile(r"\w+")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)?")
STOPWORDS = frozenset(
    """a an the and or but if then than so of to in on at by for with from as into about over
    is are was were be been being am do does did has have had it its this that these those
    there here i you he she we they me him her us them my your his our their what which who
    whom whose when where why how not no yes can could will would shall should may might must
    also just very all any each some such only own same too more most other sure ok okay
    well hello hi thanks thank please""".split()  # noqa: SIM905 (a word list reads better as text)
)


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) character offsets of each sentence of `text`, whitespace trimmed: a
    sentence ends with . ! or ? before a space (or the end), or at a line break."""
    spans = []
    for match in _SENTENCE.finditer(text):
        start, end = match.start(), match.end()
        while end > start and text[end - 1].isspace():
            end -= 1
        if end > start:
            spans.append((start, end))
    return spans


def content_words(text: str) -> set[str]:
    """Lower-case words that carry content (stopwords left out, a plural's "s" dropped)."""
    words = (w.lower() for w in _WORD.findall(text))
    return {stem(w) for w in words if w not in STOPWORDS}


def stem(word: str) -> str:
    return word[:-1] if len(word) > 3 and word.endswith("s") and not word.endswith("ss") else word


@dataclass(frozen=True)
class _RecordSentence:
    record: Knowledge
    start: int
    end: int

    @property
    def text(self) -> str:
        return self.record.text[self.start : self.end]


def cite(
    answer: str,
    knowledge: Sequence[Hit],
    embedder: Embedder | None,
    *,
    supported_at: float = SUPPORTED_AT,
) -> tuple[Citation, ...]:
    """One Citation per sentence of `answer`: the best-supporting sentence of the `knowledge`
    records, or `record_id` None when none reaches `supported_at`. Without an embedder, word
    overlap alone decides."""
    sentences = sentence_spans(answer)
    passages = [
        _RecordSentence(h.record, s, e)
        for h in knowledge
        if isinstance(h.record, Knowledge)
        for s, e in sentence_spans(h.record.text)
    ]
    if not sentences:
        return ()
    texts = [answer[s:e] for s, e in sentences]
    support = support_matrix(
        texts, [p.text for p in passages], embedder
    )  # (answer, record) sentences
    citations = []
    for row, (start, end) in enumerate(sentences):
        best = int(np.argmax(support[row])) if passages else -1
        score = float(support[row, best]) if passages else 0.0
        if best < 0 or score < supported_at:
            citations.append(Citation(texts[row], start, end, None, score=round(score, 4)))
            continue
        p = passages[best]
        citations.append(
            Citation(
                texts[row], start, end, p.record.id, p.record.version, p.start, p.end,
                round(score, 4),
            )
        )  # fmt: skip
    return tuple(citations)


def supported_fraction(citations: Sequence[Citation]) -> float:
    """The share of the answer's sentences a record supports; sentences without content words
    ("Sure!") count neither way. 1.0 for an answer with none."""
    counted = [c for c in citations if content_words(c.text)]
    if not counted:
        return 1.0
    return sum(c.record_id is not None for c in counted) / len(counted)


def support_matrix(answer: list[str], record: list[str], embedder: Embedder | None) -> np.ndarray:
    """(len(answer), len(record)) support of each answer sentence by each record sentence (see
    the module docstring; extractive answers rank record sentences by a question with it)."""
    if not record:
        return np.zeros((len(answer), 0), dtype=np.float32)
    overlap = np.zeros((len(answer), len(record)), dtype=np.float32)
    penalty = np.ones_like(overlap)
    record_words = [content_words(t) for t in record]
    record_numbers = [set(_NUMBER.findall(t)) for t in record]
    for i, text in enumerate(answer):
        words, numbers = content_words(text), set(_NUMBER.findall(text))
        for j in range(len(record)):
            overlap[i, j] = len(words & record_words[j]) / len(words) if words else 0.0
            if numbers - record_numbers[j]:
                penalty[i, j] = NOVEL_NUMBER_FACTOR
    if embedder is None:
        return overlap * penalty
    # rows L2-normalised; answers are new each time, records come back again and again
    cosine = np.clip(embedder.embed(answer) @ _embedded(embedder, record).T, 0.0, 1.0)
    return (cosine + overlap) / 2 * penalty


_cache: OrderedDict[tuple[str, str], np.ndarray] = OrderedDict()
_cache_lock = threading.Lock()


def _embedded(embedder: Embedder, texts: list[str]) -> np.ndarray:
    """Embeddings of `texts` (n, dim), the ones seen recently from the cache."""
    keys = [(f"{embedder.name}:{embedder.dim}", t) for t in texts]
    with _cache_lock:
        known = {k: _cache[k] for k in keys if k in _cache}
    missing = list(dict.fromkeys(k for k in keys if k not in known))
    if missing:
        fresh = embedder.embed([t for _, t in missing])
        known.update(zip(missing, fresh, strict=True))
        with _cache_lock:
            for key in missing:
                _cache[key] = known[key]
            while len(_cache) > CACHE_SIZE:
                _cache.popitem(last=False)
    with _cache_lock:
        for key in keys:
            if key in _cache:
                _cache.move_to_end(key)
    return np.stack([known[k] for k in keys])
