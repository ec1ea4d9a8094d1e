"""mindpilot: the Autopilot System, the Mental Process and the self-taking mechanism.

    engine = mindpilot.open()          # the bundled model, the store under MINDPILOT_HOME
    engine.respond("How long do refunds take?", task="support").used   # with provenance

The proposal's names are kept: `create_autopilot_system`, `MentalProcess`,
`AutopilotWithMentalProcess`. Names load lazily, so `import mindpilot` does not import torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from mindpilot.errors import MindpilotError

if TYPE_CHECKING:
    from mindpilot.autopilot import Autopilot, create_autopilot_system
    from mindpilot.engine import Engine
    from mindpilot.mental_process import MentalProcess
    from mindpilot.proposal import AutopilotWithMentalProcess
    from mindpilot.types import GenerationConfig, Message, Response, UsedRecord

# public name -> module that defines it
_LAZY = {
    "Autopilot": "mindpilot.autopilot",
    "GenerationConfig": "mindpilot.types",
    "Message": "mindpilot.types",
    "Response": "mindpilot.types",
    "UsedRecord": "mindpilot.types",
    "create_autopilot_system": "mindpilot.autopilot",
    "MentalProcess": "mindpilot.mental_process",
    "Engine": "mindpilot.engine",
    "AutopilotWithMentalProcess": "mindpilot.proposal",
}

__all__ = [
    "Autopilot",
    "AutopilotWithMentalProcess",
    "Engine",
    "GenerationConfig",
    "MentalProcess",
    "Message",
    "MindpilotError",
    "Response",
    "UsedRecord",
    "create_autopilot_system",
    "open",
]


def open(model: Any = None, **wiring: Any) -> Engine:  # like io.open: shadows the builtin here only
    """The whole system, ready to answer: `Engine.open` (see there for the arguments)."""
    from mindpilot.engine import Engine

    return Engine.open(model, **wiring)


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'mindpilot' has no attribute {name!r}")
    return getattr(importlib.import_module(_LAZY[name]), name)
