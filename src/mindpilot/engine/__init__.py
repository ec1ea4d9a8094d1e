"""The one core: a request in, a response with provenance out.

The CLI, the HTTP server and the Python API (`AutopilotWithMentalProcess`) all call `Engine`,
and all open it the same way, `Engine.open(...)` (also `mindpilot.open`): the Autopilot, the
Mental Process store and the audit log wired together.
`(namespace, task, messages)` -> task profile -> self-taking (search the Mental Process) ->
prompt composition -> the Autopilot generates -> text + the records used + timings.
"""

from mindpilot.engine.answers import NOTHING_TO_EXTRACT
from mindpilot.engine.core import Engine
from mindpilot.engine.requests import ComposedRequest, used_record

# The names of the first release, kept for one more.
Prepared = ComposedRequest

__all__ = ["NOTHING_TO_EXTRACT", "ComposedRequest", "Engine", "Prepared", "used_record"]
