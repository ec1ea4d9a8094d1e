"""The applications the proposal names, on the one engine: text generation and chat are
`Engine.respond`/`Engine.stream`; sentiment analysis is `classify`."""

from mindpilot.applications.sentiment import Classification, classify

__all__ = ["Classification", "classify"]
