"""The self-taking mechanism: what to take from the Mental Process, and how to compose it."""

from mindpilot.self_taking.compose import compose
from mindpilot.self_taking.policy import TakenRecords, take_from_mental_process, task_profile

# The names of the first release, kept for one more.
Taken = TakenRecords
take = take_from_mental_process

__all__ = [
    "Taken",
    "TakenRecords",
    "compose",
    "take",
    "take_from_mental_process",
    "task_profile",
]
