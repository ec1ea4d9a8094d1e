"""The Mental Process: a persistent, typed, versioned store of knowledge, emotions and
experiences, per namespace.

`MentalProcess` is the friendly face (the proposal's names included); `Store` is the typed
interface backends implement; `open_store` opens one by path or URL.

The names load on first use (PEP 562): importing `mindpilot.mental_process.records` alone, as
the CLI does, must not import numpy and the store (a fast resident `memory add`).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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

_WHERE = {
    "MentalProcess": "mindpilot.mental_process.facade",
    "Store": "mindpilot.mental_process.store",
    "open_store": "mindpilot.mental_process.store",
    "STORES": "mindpilot.plugins",
    **dict.fromkeys(
        ["KINDS", "Change", "Emotion", "Experience", "Hit", "Kind", "Knowledge", "Record",
         "RetrievalSettings", "TaskProfile"],
        "mindpilot.mental_process.records",
    ),
}  # fmt: skip

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


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'mindpilot.mental_process' has no attribute {name!r}")
    value = getattr(importlib.import_module(_WHERE[name]), name)
    globals()[name] = value  # later lookups skip this function
    return value
