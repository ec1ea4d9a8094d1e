"""`Engine`: a request in, a response with provenance out (the one core every shell calls)."""

from __future__ import annotations

from typing import Any

from mindpilot.adapters import serving_profile
from mindpilot.engine.answers import AnswerPaths
from mindpilot.engine.requests import ComposedRequest
from mindpilot.mental_process.records import TaskProfile
from mindpilot.self_taking import take_from_mental_process, task_profile
from mindpilot.types import (
    GenerationConfig,
    Prompt,
    Response,
    Stream,
    as_messages,
)


class Engine(AnswerPaths):
    """The Autopilot conditioned on the Mental Process by self-taking. With an `audit` log
    (monitor.AuditLog), every finished response is recorded and carries its `audit_id`.

    `autopilot` may be a loader (a callable returning the Autopilot), called on first use:
    a server then answers memory calls and lists models (`model_name`) before the model loads.
    """

    def prepare(
        self,
        prompt: Prompt,
        *,
        task: str | None = None,
        namespace: str = "default",
        use_memory: bool = True,
        profile: TaskProfile | None = None,
    ) -> ComposedRequest:
        """Self-taking and composition without generating. `profile` overrides the stored one."""
        messages = as_messages(prompt)
        if not (use_memory and task and self.store is not None):
            return ComposedRequest(namespace, task, tuple(messages), None, 0.0, 0, tuple(messages))
        profile = profile or task_profile(self.store, namespace, task)
        if profile.adapter is not None:  # the adapter has learned the task's examples
            profile = serving_profile(profile)
        taken = take_from_mental_process(
            self.store, namespace, task, messages, self.autopilot.count_text, profile,
            scorer=self.autopilot.backend if profile.retrieval.rerank_depth else None,
        )  # fmt: skip
        return self.recompose(namespace, task, taken, messages)

    def respond(
        self,
        prompt: Prompt,
        *,
        task: str | None = None,
        namespace: str = "default",
        config: GenerationConfig | None = None,
        use_memory: bool = True,
        answer_mode: str | None = None,
        **overrides: Any,
    ) -> Response:
        """Answer with what the task needs from the Mental Process; see `Response`.
        `answer_mode` ("generate" or "extractive") overrides the task's for this request."""
        return self.stream(
            prompt,
            task=task,
            namespace=namespace,
            config=config,
            use_memory=use_memory,
            answer_mode=answer_mode,
            **overrides,
        ).finish()

    def stream(
        self,
        prompt: Prompt,
        *,
        task: str | None = None,
        namespace: str = "default",
        config: GenerationConfig | None = None,
        use_memory: bool = True,
        answer_mode: str | None = None,
        **overrides: Any,
    ) -> Stream[Response]:
        """Like `respond`, streamed; `.result` holds the Response after the last piece."""
        prepared = self.prepare(prompt, task=task, namespace=namespace, use_memory=use_memory)
        return self.stream_answer(prepared, config, answer_mode=answer_mode, **overrides)
