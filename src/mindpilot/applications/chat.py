"""Customer-service chat, the proposal's third application: multi-turn conversations,
persisted per namespace as sessions, on the one engine.

`Sessions` keeps conversations in the store's journal (`Store.journal()`: tables
`chat_sessions` and `chat_turns` of the SQLite file or the PostgreSQL database). `Chat`
answers the next user turn of a session: it loads the history, drops the oldest turns until
the composed prompt fits the model's context window with room left for the answer, generates
through `Engine` (self-taking retrieves with the last two user turns, so a follow-up keeps its
subject) and appends both turns, the answer with its audit id.

    chat = Chat(Engine(autopilot, store, AuditLog(store)), Sessions(store))
    session = chat.sessions.create("default", "support")
    chat.send(session.id, "My Zorblax router blinks red.")
    chat.send(session.id, "How do I reset it?")   # "it" = the router, from the first turn

Every call names its namespace: a session id from another namespace is not found.
"""

from __future__ import annotations

import builtins
import time
import uuid
from collections.abc import Generator, Sequence
from typing import Any

from mindpilot.engine import ComposedRequest, Engine
from mindpilot.errors import NotFoundError, ValidationError
from mindpilot.mental_process.journal import ChatSession, Turn
from mindpilot.mental_process.records import check_namespace
from mindpilot.mental_process.store import Store
from mindpilot.types import GenerationConfig, Message, Response, Stream, with_overrides

__all__ = ["Chat", "ChatSession", "Sessions", "Turn"]  # the row types live in the journal

# The answer may take at most this share of the context window: a large max_new_tokens must
# not crowd the whole conversation out (the backend still stops at the window's end).
MAX_ANSWER_SHARE = 0.25
# Rough template tokens around each message (role header, end marker), to estimate how many
# turns to drop before the exact count checks it.
TOKENS_PER_MESSAGE = 4
TITLE_CHARS = 60


class Sessions:
    """Chat sessions of a store (any backend: its journal)."""

    def __init__(self, store: Store) -> None:
        self._journal = store.journal()

    def create(self, namespace: str, task: str | None = None, title: str = "") -> ChatSession:
        check_namespace(namespace)
        now = time.time()
        session = ChatSession(f"cs_{uuid.uuid4().hex[:12]}", namespace, task, now, title, now)
        self._journal.add_session(session)
        return session

    def get(self, namespace: str, session_id: str) -> ChatSession:
        """NotFoundError unless the namespace has this session."""
        check_namespace(namespace)
        session = self._journal.find_session(namespace, session_id)
        if session is None:
            raise NotFoundError(
                f"no chat session {session_id!r} in namespace {namespace!r}",
                hint="start one with `mindpilot chat`, list them with `mindpilot session list`",
            )
        return session

    def list(
        self, namespace: str, *, limit: int = 50, offset: int = 0
    ) -> builtins.list[ChatSession]:
        """The namespace's sessions, most recently active first."""
        check_namespace(namespace)
        return self._journal.sessions(namespace, limit, offset)

    def append(
        self, namespace: str, session_id: str, message: Message, audit_id: str | None = None
    ) -> Turn:
        """Add a turn at the end; the first user turn titles an untitled session."""
        session = self.get(namespace, session_id)
        turn = Turn(message.role, message.content, audit_id, time.time())
        title = session.title
        if not title and message.role == "user":
            title = " ".join(message.content.split())[:TITLE_CHARS]
        self._journal.add_turn(namespace, session_id, turn, title)
        return turn

    def turns(self, namespace: str, session_id: str) -> builtins.list[Turn]:
        """The session's turns, oldest first."""
        self.get(namespace, session_id)
        return self._journal.turns(namespace, session_id)

    def messages(self, namespace: str, session_id: str) -> builtins.list[Message]:
        """The conversation so far, as messages for the engine."""
        return [t.message for t in self.turns(namespace, session_id)]

    def delete(self, namespace: str, session_id: str) -> None:
        """Remove a session and its turns (its audit entries stay)."""
        self.get(namespace, session_id)
        self._journal.delete_session(namespace, session_id)

    def close(self) -> None:
        self._journal.close()

    def __enter__(self) -> Sessions:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Chat:
    """The next turn of a persisted conversation, answered by the engine."""

    def __init__(self, engine: Engine, sessions: Sessions) -> None:
        self.engine = engine
        self.sessions = sessions

    def send(
        self,
        session_id: str,
        user_text: str,
        *,
        namespace: str = "default",
        config: GenerationConfig | None = None,
        **overrides: Any,
    ) -> Response:
        """Answer `user_text` in the session; both turns are stored."""
        return self.stream(
            session_id, user_text, namespace=namespace, config=config, **overrides
        ).finish()

    def stream(
        self,
        session_id: str,
        user_text: str,
        *,
        namespace: str = "default",
        config: GenerationConfig | None = None,
        **overrides: Any,
    ) -> Stream[Response]:
        """Like `send`, streamed; the turns are stored once the answer is complete."""
        if not user_text.strip():
            raise ValidationError("the message is empty", hint="type something to answer")
        session = self.sessions.get(namespace, session_id)
        config = with_overrides(config, overrides)
        user = Message("user", user_text)
        history = self.sessions.messages(namespace, session_id)
        prepared = self.fit(session, [*history, user], config)
        stream = self.engine.stream_answer(prepared, config, session_id=session.id)
        return Stream(self._store_turns(session, user, stream))

    def fit(
        self, session: ChatSession, messages: Sequence[Message], config: GenerationConfig
    ) -> ComposedRequest:
        """Self-taking and composition on the latest turns that fit the context window with
        room for the answer. The newest user turn always stays; if it alone is too long the
        backend says so (ContextWindowError)."""
        autopilot = self.engine.autopilot
        window = autopilot.context_window
        room = min(config.max_new_tokens, int(window * MAX_ANSWER_SHARE))
        messages = list(messages)
        # Search once, with the whole conversation's latest turns; dropping old turns then
        # only recomposes the prompt around the same records.
        prepared = self.engine.prepare(messages, task=session.task, namespace=session.namespace)
        while True:
            excess = autopilot.count_tokens(prepared.messages) + room - window
            shorter = _drop_oldest(messages, excess, autopilot.count_text)
            if excess <= 0 or len(shorter) == len(messages):
                return prepared
            messages = shorter
            if prepared.taken is None:  # no Mental Process: nothing to search again
                prepared = self.engine.prepare(
                    messages, task=session.task, namespace=session.namespace, use_memory=False
                )
            else:
                prepared = self.engine.recompose(
                    session.namespace, session.task, prepared.taken, messages
                )

    def _store_turns(
        self, session: ChatSession, user: Message, stream: Stream[Response]
    ) -> Generator[str, None, Response]:
        yield from stream
        response = stream.finish()
        self.sessions.append(session.namespace, session.id, user)
        answer = Message("assistant", response.text)
        self.sessions.append(session.namespace, session.id, answer, audit_id=response.audit_id)
        return response


def _drop_oldest(messages: list[Message], excess: int, count_text: Any) -> list[Message]:
    """Drop the oldest turns (system messages stay) until about `excess` tokens are gone, and
    never leave an answer without its question at the start."""
    system = [m for m in messages if m.role == "system"]
    turns = [m for m in messages if m.role != "system"]
    dropped = 0
    while len(turns) > 1 and (dropped < excess or turns[0].role != "user"):
        dropped += count_text(turns.pop(0).content) + TOKENS_PER_MESSAGE
    return system + turns
