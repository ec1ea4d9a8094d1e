"""The self-taking mechanism: what to take from the Mental Process, and how to compose it."""

from mindpilot.self_taking.compose import compose
from mindpilot.self_taking.policy import Taken, take, task_profile

__all__ = ["Taken", "compose", "take", "task_profile"]
