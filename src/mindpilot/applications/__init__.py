"""The applications the proposal names, on the one engine: text generation is
`Engine.respond`/`Engine.stream`; sentiment analysis is `classify`; customer-service chat is
`Chat` over persisted `Sessions`."""

from mindpilot.applications.chat import Chat, ChatSession, Sessions
from mindpilot.applications.sentiment import Classification, classify

__all__ = ["Chat", "ChatSession", "Classification", "Sessions", "classify"]
