"""Structured output by constrained decoding (issue 17): `response_format` json_object and
json_schema return valid JSON by construction, on the tiny random model (whose free text is
noise: only the grammar can make it valid), through the openai client and LangChain."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Literal

import jsonschema
import pytest

from mindpilot.autopilot import Autopilot
from tests.server_helpers import Served, error_of, serving

# Bounded strings and numbers: a random model may never close an unbounded string.
PERSON = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "maxLength": 12},
        "age": {"type": "integer", "minimum": 0, "maximum": 120},
        "member": {"type": "boolean"},
        "plan": {"enum": ["free", "pro"]},
    },
    "required": ["name", "age", "member", "plan"],
    "additionalProperties": False,
}


@pytest.fixture(scope="module")
def served(tiny_autopilot: Autopilot, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with serving(tiny_autopilot, tmp_path_factory.mktemp("structured")) as running:
        yield running


def ask(text: str = "Describe a customer.") -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


def test_the_engine_decodes_under_a_schema(tiny_autopilot: Autopilot) -> None:
    free = tiny_autopilot.generate("Describe a customer.", max_new_tokens=40).text
    with pytest.raises(json.JSONDecodeError):
        json.loads(free)  # the model alone writes noise: the constraint is what makes JSON
    for seed in range(3):
        answer = tiny_autopilot.generate(
            "Describe a customer.", max_new_tokens=80, temperature=1.0, seed=seed,
            json_schema=json.dumps(PERSON),
        )  # fmt: skip
        jsonschema.validate(json.loads(answer.text), PERSON)
        assert answer.finish_reason == "stop"  # the grammar ended it, not the token limit


def test_response_format_json_schema_and_json_object(
    served: Served, tiny_autopilot: Autopilot
) -> None:
    client, name = served.client(), tiny_autopilot.model_name
    shaped = client.chat.completions.create(
        model=name, messages=ask(), max_tokens=80,
        response_format={"type": "json_schema",
                         "json_schema": {"name": "person", "schema": PERSON, "strict": True}},
    )  # fmt: skip
    jsonschema.validate(json.loads(shaped.choices[0].message.content or ""), PERSON)
    anything = client.chat.completions.create(
        model=name, messages=ask(), max_tokens=200, response_format={"type": "json_object"}
    )
    if anything.choices[0].finish_reason == "stop":  # unbounded: it may hit the limit
        assert isinstance(json.loads(anything.choices[0].message.content or ""), dict)
    else:
        assert (anything.choices[0].message.content or "").startswith("{")


def test_a_schema_that_cannot_be_used_is_a_clear_422(served: Served) -> None:
    import httpx

    url = f"{served.url}/v1/chat/completions"
    body = {"model": "x", "messages": ask(), "response_format": {"type": "json_schema"}}
    missing = httpx.post(url, json=body)
    assert missing.status_code in (404, 422)  # the unknown model or the missing schema
    base = httpx.get(f"{served.url}/v1/models").json()["data"][0]["id"]
    body["model"] = base
    missing = httpx.post(url, json=body)
    assert missing.status_code == 422 and "needs its schema" in error_of(missing)["message"]
    body["response_format"] = {"type": "json_schema", "json_schema": {"schema": {"type": 5}}}
    bad = httpx.post(url, json=body)
    assert bad.status_code == 422 and "cannot be used" in error_of(bad)["message"]


def test_langchain_with_structured_output(served: Served, tiny_autopilot: Autopilot) -> None:
    """LangChain's `with_structured_output` (its default json_schema method) unchanged."""

    from langchain_openai import ChatOpenAI
    from pydantic import BaseModel, Field

    class Person(BaseModel):
        name: str = Field(max_length=12)
        age: int = Field(ge=0, le=120)
        member: bool
        plan: Literal["free", "pro"]

    url, name = f"{served.url}/v1", tiny_autopilot.model_name
    chat = ChatOpenAI(base_url=url, api_key="unused", model=name, max_tokens=80, temperature=0)
    person = chat.with_structured_output(Person, method="json_schema").invoke("A customer?")
    assert isinstance(person, Person) and 0 <= person.age <= 120


# ---- tool calling -------------------------------------------------------------------------
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The weather in a city.",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string", "maxLength": 16},
                           "unit": {"enum": ["c", "f"]}},
            "required": ["city", "unit"],
            "additionalProperties": False,
        },
    },
}  # fmt: skip
TIME = {"type": "function", "function": {"name": "get_time", "parameters": {
    "type": "object", "properties": {"zone": {"enum": ["utc", "local"]}}, "required": ["zone"],
    "additionalProperties": False}}}  # fmt: skip


def test_required_and_named_tool_calls_validate(served: Served, tiny_autopilot: Autopilot) -> None:
    client, name = served.client(), tiny_autopilot.model_name
    named = {"type": "function", "function": {"name": "get_time"}}
    for choice, expected in (("required", {"get_weather", "get_time"}), (named, {"get_time"})):
        answer = client.chat.completions.create(
            model=name, messages=ask("Weather in Oslo?"), max_tokens=60, tools=[WEATHER, TIME],
            tool_choice=choice,  # type: ignore[arg-type]
        )  # fmt: skip
        message = answer.choices[0].message
        assert answer.choices[0].finish_reason == "tool_calls" and message.content is None
        (call,) = message.tool_calls or []
        assert call.function.name in expected and call.id.startswith("call_")  # type: ignore[union-attr]
        schema = (WEATHER if call.function.name == "get_weather" else TIME)["function"]  # type: ignore[union-attr]
        jsonschema.validate(json.loads(call.function.arguments), schema["parameters"])  # type: ignore[union-attr, index]


def test_auto_none_streaming_and_a_tool_result(served: Served, tiny_autopilot: Autopilot) -> None:
    client, name = served.client(), tiny_autopilot.model_name
    auto = client.chat.completions.create(
        model=name, messages=ask("Hi"), max_tokens=40, tools=[WEATHER], seed=1, temperature=1.0
    ).choices[0]
    if auto.message.tool_calls:  # auto: a valid call, or text that is not JSON
        assert auto.finish_reason == "tool_calls"
    else:
        assert not (auto.message.content or "").startswith("{")
    plain = client.chat.completions.create(
        model=name, messages=ask("Hi"), max_tokens=8, tools=[WEATHER], tool_choice="none"
    ).choices[0]
    assert plain.message.tool_calls is None and plain.message.content
    chunks = list(client.chat.completions.create(
        model=name, messages=ask("Weather?"), max_tokens=60, tools=[WEATHER],
        tool_choice="required", stream=True,
    ))  # fmt: skip
    deltas = [c.choices[0].delta for c in chunks if c.choices]
    assert not any(d.content for d in deltas)  # the call's JSON is never streamed as text
    (called,) = [t for d in deltas for t in d.tool_calls or []]
    assert called.function.name == "get_weather"  # type: ignore[union-attr]
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "tool_calls"
    call = called.model_dump(exclude={"index"})
    history = [
        *ask("Weather in Oslo?"),
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": called.id, "content": '{"temp": 4}'},
    ]
    after = client.chat.completions.create(model=name, messages=history, max_tokens=8)  # type: ignore[arg-type]
    assert after.choices[0].message.content


def test_langchain_bind_tools_round_trip(served: Served, tiny_autopilot: Autopilot) -> None:
    """LangChain's `bind_tools`, the tool run, its result sent back: unchanged."""
    from langchain_core.messages import HumanMessage, ToolMessage
    from langchain_core.tools import tool
    from langchain_openai import ChatOpenAI

    @tool
    def get_time(zone: Literal["utc", "local"]) -> str:  # bounded: the tiny model is noise
        """The time in a zone."""
        return f"12:00 {zone}"

    url, name = f"{served.url}/v1", tiny_autopilot.model_name
    chat = ChatOpenAI(base_url=url, api_key="unused", model=name, max_tokens=60, temperature=0)
    asked = [HumanMessage("What time is it in UTC?")]
    reply = chat.bind_tools([get_time], tool_choice="required").invoke(asked)
    (call,) = reply.tool_calls
    assert call["name"] == "get_time" and call["args"]["zone"] in ("utc", "local")
    result = get_time.invoke(call)
    assert isinstance(result, ToolMessage)
    final = chat.bind_tools([get_time]).invoke([*asked, reply, result])
    assert final.content or final.tool_calls  # the model read the result and answered
