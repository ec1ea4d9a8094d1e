"""The Mental Process: a persistent, typed, versioned store of knowledge, emotions and
experiences, per namespace.

`MentalProcess` is the friendly face (the proposal's names included); `Store` is the typed
interface backends implement; `open_store` opens one by path or URL.
"""

from __future__ import annotations

from mindpilot.mental_process.facade import MentalProcess
from mindpilot.mental_process.records import (
    KINDS,
    Change,
    Emotion,
    Experience,
    Hit,
    Kind,
    Knowledge,
    Record,
    RetrievalSettings,
    TaskProfile,
)
from mindpilot.mental_process.store import Store, open_store
from mindpilot.plugins import STORES  # kept here for callers of the first release

__all__ = [
    "KINDS",
    "STORES",
    "Change",
    "Emotion",
    "Experience",
    "Hit",
    "Kind",
    "Knowledge",
    "MentalProcess",
    "Record",
    "RetrievalSettings",
    "Store",
    "TaskProfile",
    "open_store",
]
