"""Task-specific learning on the frozen base: per-task LoRA adapters (peft), trained from the
task's own Mental Process records, stored with a manifest, applied per request.

    adapted = adapt(autopilot, store, "default", "sentiment")   # train, validate, maybe activate
    adapted.manifest.metrics                                     # accuracy before / after
"""

from mindpilot.adapters.adapt import Adapted, adapt, attach
from mindpilot.adapters.config import AdapterConfig
from mindpilot.adapters.data import classification_prompt, label_continuations, serving_profile
from mindpilot.adapters.library import AdapterLibrary, Manifest, Metrics
from mindpilot.adapters.manage import (
    Listed,
    activate,
    deactivate,
    delete,
    listing,
    set_active,
)
from mindpilot.adapters.train import Progress

__all__ = [
    "Adapted",
    "AdapterConfig",
    "AdapterLibrary",
    "Listed",
    "Manifest",
    "Metrics",
    "Progress",
    "activate",
    "adapt",
    "attach",
    "classification_prompt",
    "deactivate",
    "delete",
    "label_continuations",
    "listing",
    "serving_profile",
    "set_active",
]
