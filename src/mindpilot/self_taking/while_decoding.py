"""Self-taking during decoding: when the model is unsure mid-answer, search again.

The first search (policy.take) only sees the question. Once the model has started answering,
its own words say what it is about to need ("... reset it from the admin page at"), so when
its confidence drops under the task's `unsure_below`, the question plus the answer's latest
sentence is searched; knowledge not yet in the prompt that passes the same relevance, duplicate
and budget rules is added, and the backend goes on from the re-composed prompt (FLARE-style
active retrieval, without discarding what was already streamed).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from dataclasses import replace

from mindpilot.mental_process.records import Hit
from mindpilot.mental_process.store import Store
from mindpilot.self_taking.compose import compose
from mindpilot.self_taking.policy import TakenRecords, search_knowledge, select
from mindpilot.types import Message

# An answer's first tokens only restate the question, which was searched already.
MIN_ANSWER_CHARS = 12
# After a search, let the answer move on before the next one (characters of new text).
MIN_CHARS_BETWEEN = 40
_SENTENCE_END = re.compile(r"(?<=[.!?:;\n])\s+")


class RetrieveWhileDecoding:
    """A `DecodingHook`: consulted by the backend at each step; see the module docstring."""

    def __init__(
        self,
        store: Store,
        namespace: str,
        taken: TakenRecords,
        request: Sequence[Message],
        count_text: Callable[[str], int],
    ) -> None:
        self.store, self.namespace, self.count_text = store, namespace, count_text
        self.taken = taken  # grows as searches add knowledge
        self.request = tuple(request)
        self.searches = 0
        self.added: list[Hit] = []  # knowledge taken while decoding, in the order taken
        self.retrieval_s = 0.0
        self.messages: tuple[Message, ...] | None = None  # the prompt after the last accept
        self._pending: TakenRecords | None = None
        self._searched_at = -MIN_CHARS_BETWEEN

    def consult(self, answer: str, confidence: float) -> Sequence[Message] | None:
        settings = self.taken.profile.retrieval
        if (
            confidence >= settings.unsure_below
            or self.searches >= settings.decode_retrievals
            or len(answer) < MIN_ANSWER_CHARS
            or len(answer) - self._searched_at < MIN_CHARS_BETWEEN
        ):
            return None
        started = time.perf_counter()
        self.searches += 1
        self._searched_at = len(answer)
        new = self._new_knowledge(f"{self.taken.query}\n{_latest_sentence(answer)}")
        self.retrieval_s += time.perf_counter() - started
        if not new:
            return None
        self._pending = replace(self.taken, knowledge=self.taken.knowledge + new)
        return compose(self._pending, self.request)

    def accepted(self) -> None:
        if self._pending is None:
            raise RuntimeError("accepted() without a pending proposal")
        self.added += self._pending.knowledge[len(self.taken.knowledge) :]
        self.taken, self._pending = self._pending, None
        self.messages = tuple(compose(self.taken, self.request))

    def _new_knowledge(self, query: str) -> tuple[Hit, ...]:
        """Relevant knowledge not in the prompt yet, within what is left of the budget."""
        settings = self.taken.profile.retrieval
        have = {h.record.id for h in self.taken.knowledge}
        hits = search_knowledge(self.store, self.namespace, query, self.taken.profile)
        used = sum(self.count_text(h.record.search_text) for h in self.taken.knowledge)
        kept, _ = select(
            [h for h in hits if h.record.id not in have],
            settings.min_similarity,
            settings.knowledge_top_k,
            settings.knowledge_tokens - used,
            self.count_text,
            already=[h.record.search_text for h in self.taken.knowledge],
        )
        return kept


def _latest_sentence(answer: str) -> str:
    """The answer's last sentence (the one being written), with the one before for context."""
    sentences = [s for s in _SENTENCE_END.split(answer.strip()) if s]
    return " ".join(sentences[-2:])
