"""mindpilot: the Autopilot System, the Mental Process and the self-taking mechanism.

The proposal's names are kept: `create_autopilot_system`, `MentalProcess`,
`AutopilotWithMentalProcess`. Names load lazily, so `import mindpilot` does not import torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from mindpilot.errors import MindpilotError

if TYPE_CHECKING:
    from mindpilot.autopilot import Autopilot, GenerationConfig, Message, create_autopilot_system
    from mindpilot.engine import AutopilotWithMentalProcess, Engine
    from mindpilot.mental_process import MentalProcess

# public name -> module that defines it
_LAZY = {
    "Autopilot": "mindpilot.autopilot",
    "GenerationConfig": "mindpilot.autopilot",
    "Message": "mindpilot.autopilot",
    "create_autopilot_system": "mindpilot.autopilot",
    "MentalProcess": "mindpilot.mental_process",
    "Engine": "mindpilot.engine",
    "AutopilotWithMentalProcess": "mindpilot.engine",
}

__all__ = [
    "Autopilot",
    "AutopilotWithMentalProcess",
    "Engine",
    "GenerationConfig",
    "MentalProcess",
    "Message",
    "MindpilotError",
    "create_autopilot_system",
]


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'mindpilot' has no attribute {name!r}")
    return getattr(importlib.import_module(_LAZY[name]), name)
