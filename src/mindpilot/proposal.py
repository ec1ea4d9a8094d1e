"""The proposal's own object, `AutopilotWithMentalProcess`, on the one engine.

Its example runs unchanged (examples/proposal.py): `create_autopilot_system()` gives the frozen
model and tokenizer, `MentalProcess()` the store, and `generate_text(prompt, task)` answers
through `Engine` with what the task needs from the Mental Process.
"""

from __future__ import annotations

from typing import Any

from mindpilot.autopilot.model import Autopilot
from mindpilot.engine import Engine
from mindpilot.types import Response


class AutopilotWithMentalProcess:
    """The proposal's object: the frozen model conditioned on a Mental Process.

    >>> model, tokenizer = create_autopilot_system()
    >>> apmp = AutopilotWithMentalProcess(model, tokenizer, MentalProcess())
    >>> apmp.generate_text("Explain the concept of supervised learning.", "Machine Learning")
    """

    def __init__(self, autopilot_model: Any, autopilot_tokenizer: Any, mental_process: Any) -> None:
        from mindpilot.autopilot.transformers_backend import TransformersBackend

        backend = TransformersBackend(autopilot_model, autopilot_tokenizer)
        self.mental_process = mental_process
        self.engine = Engine(Autopilot(backend), mental_process.store)

    def generate_text(self, prompt: str, task: str, max_new_tokens: int = 128) -> str:
        """The answer to `prompt`, taking from the Mental Process what `task` needs."""
        return self.respond(prompt, task, max_new_tokens=max_new_tokens).text

    def respond(self, prompt: str, task: str, **overrides: Any) -> Response:
        """Like `generate_text`, with provenance and timings."""
        return self.engine.respond(
            prompt, task=task, namespace=self.mental_process.namespace, **overrides
        )
