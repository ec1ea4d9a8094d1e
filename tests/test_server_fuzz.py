"""Schema-driven fuzzing: schemathesis generates requests from the server's own OpenAPI document
(valid and invalid ones) for every operation, against a real server on the tiny model; none
may get a 5xx."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from mindpilot.autopilot import Autopilot
from mindpilot.mental_process.records import Knowledge, TaskProfile
from tests.server_helpers import serving

EXAMPLES = 25  # per operation and mode


@schemathesis.serializer("application/x-ndjson")
def _ndjson(_ctx: Any, value: Any) -> bytes:
    """The import body (a JSONL text in the schema): a text as generated; anything else the
    negative mode makes (numbers, objects...) as its JSON."""
    if isinstance(value, str):
        return value.encode("utf-8", "surrogatepass")
    return json.dumps(value).encode()


def _steer_chat(model: str) -> Callable[[Any], Any]:
    """Random model names only reach the 404; use the real one half of the time, and keep
    answers short so the fuzzer spends its time on inputs, not decoding."""

    def steer(pair: tuple[Any, bool]) -> Any:
        case, real_model = pair
        if isinstance(case.body, dict):
            if real_model:
                case.body["model"] = model
            for name in ("max_tokens", "max_completion_tokens"):
                if isinstance(case.body.get(name), int) and case.body[name] > 4:
                    case.body[name] = 4
            if "max_tokens" not in case.body and "max_completion_tokens" not in case.body:
                case.body["max_tokens"] = 4  # not the default 256
        return case

    return steer


@pytest.mark.parametrize(
    "mode",
    [
        GenerationMode.POSITIVE,
        # invalid path parameters are slow to generate (~40 s here): CI runs them
        pytest.param(GenerationMode.NEGATIVE, marks=pytest.mark.slow),
    ],
)
def test_no_request_gets_a_server_error(
    tiny_autopilot: Autopilot, tmp_path: Path, mode: GenerationMode
) -> None:
    with serving(tiny_autopilot, tmp_path) as served:
        served.store.put_task(TaskProfile(name="support"))
        served.store.add(Knowledge(domain="d", text="The Zorblat 9 router is blue."))
        schema = schemathesis.openapi.from_url(f"{served.url}/openapi.json")
        failures: list[str] = []
        fuzzed: list[str] = []
        operations = [result.ok() for result in schema.get_all_operations()]
        assert any(op.path == "/v1/chat/completions" for op in operations)
        for operation in operations:
            strategy = operation.as_strategy(generation_mode=mode)
            if operation.path == "/v1/chat/completions":
                steer = _steer_chat(tiny_autopilot.model_name)
                strategy = st.tuples(strategy, st.booleans()).map(steer)

            @given(case=strategy)
            @settings(
                max_examples=EXAMPLES,
                deadline=None,
                database=None,
                suppress_health_check=list(HealthCheck),
            )
            def call(case: Any) -> None:
                response = case.call(base_url=served.url, timeout=30)
                if response.status_code >= 500:
                    failures.append(
                        f"{case.method} {case.formatted_path} {case.body!r:.300} -> "
                        f"{response.status_code} {response.text[:300]}"
                    )

            try:
                call()
                fuzzed.append(operation.label)
            except Unsatisfiable:  # no invalid request exists (e.g. GET /health): nothing to do
                assert mode is GenerationMode.NEGATIVE, operation.label
        assert not failures, "\n".join(failures[:10])
        assert "POST /v1/chat/completions" in fuzzed and len(fuzzed) > len(operations) / 2
