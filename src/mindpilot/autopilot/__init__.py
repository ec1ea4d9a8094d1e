"""The Autopilot System: the frozen pretrained language model behind a backend registry."""

from mindpilot.autopilot.backend import Backend
from mindpilot.autopilot.loading import DEFAULT_MODEL
from mindpilot.autopilot.model import Autopilot, create_autopilot_system
from mindpilot.plugins import BACKENDS  # kept here for callers of the first release
from mindpilot.types import (
    Generation,
    GenerationConfig,
    Message,
    Stream,
    Timings,
    Usage,
)

__all__ = [
    "BACKENDS",
    "DEFAULT_MODEL",
    "Autopilot",
    "Backend",
    "Generation",
    "GenerationConfig",
    "Message",
    "Stream",
    "Timings",
    "Usage",
    "create_autopilot_system",
]
