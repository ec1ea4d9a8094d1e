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

# public name -> module that defines it
_LAZY = {
    "Autopilot": "mindpilot.autopilot",
    "GenerationConfig": "mindpilot.autopilot",
    "Message": "mindpilot.autopilot",
    "create_autopilot_system": "mindpilot.autopilot",
}

__all__ = ["MindpilotError", *_LAZY]


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'mindpilot' has no attribute {name!r}")
    return getattr(importlib.import_module(_LAZY[name]), name)
