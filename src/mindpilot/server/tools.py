"""Tool calling on `/v1/chat/completions`, by constrained decoding.

The tools are described to the model in a system turn; its answer is decoded under a grammar:
`required` or a named function: exactly one call's JSON (`{"name": ..., "arguments": {...}}`,
the arguments valid for that tool's `parameters` schema, with no undeclared keys unless the
schema allows them); `auto`: that JSON or plain text not
starting with "{"; `none`: plain decoding. A finished answer that is a call becomes OpenAI's
`tool_calls` (finish_reason "tool_calls"); the client runs the tool and sends its result back as
a `tool` message, which the model reads as a user turn naming the call.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from mindpilot.autopilot.constrained import compact
from mindpilot.errors import ValidationError
from mindpilot.server.openai_schemas import (
    ChatRequest,
    NamedToolChoice,
    ToolCall,
    ToolCallFunction,
    ToolDef,
)
from mindpilot.types import Message

# Plain text in `auto` mode: anything that does not open a JSON object.
_TEXT = r"/[^{\s][^\x00]*/"


def choice(body: ChatRequest) -> str | None:
    """ "none", "auto", "required" or the one function's name; None without tools."""
    if not body.tools:
        if isinstance(body.tool_choice, NamedToolChoice) or body.tool_choice == "required":
            raise ValidationError("tool_choice asks for a tool call, but no tools were given")
        return None
    tool_choice = body.tool_choice or "auto"
    if isinstance(tool_choice, NamedToolChoice):
        name = tool_choice.function.name
        if name not in {t.function.name for t in body.tools}:
            raise ValidationError(f"tool_choice names {name!r}, which is not one of the tools")
        return name
    return tool_choice


def grammar(body: ChatRequest) -> str | None:
    """The Lark grammar the answer is decoded under; None for plain decoding."""
    mode = choice(body)
    if mode is None or mode == "none" or not body.tools:
        return None
    tools = [t for t in body.tools if mode in ("auto", "required") or t.function.name == mode]
    call = compact({"anyOf": [_call_schema(t) for t in tools]})
    rules = f"call: %json {json.dumps(call)}\n"
    start = "start: call | text\n" if mode == "auto" else "start: call\n"
    return start + rules + (f"text: {_TEXT}\n" if mode == "auto" else "")


def _call_schema(tool: ToolDef) -> dict[str, Any]:
    # only the declared arguments, as OpenAI's strict mode has it: a small model left free to
    # add keys of its own may never close the object
    arguments = {"additionalProperties": False, **tool.function.parameters}
    return {
        "type": "object",
        "properties": {"name": {"const": tool.function.name}, "arguments": arguments},
        "required": ["name", "arguments"],
        "additionalProperties": False,
    }


def instruction(body: ChatRequest) -> list[Message]:
    """The system turn that describes the tools and how to call one."""
    mode = choice(body)
    if mode is None or mode == "none" or not body.tools:
        return []
    described = "\n".join(
        f"- {t.function.name}: {t.function.description or ''} parameters: "
        f"{json.dumps(t.function.parameters, separators=(',', ':'))}"
        for t in body.tools
    )
    how = 'To call a tool, answer only with JSON: {"name": "<tool>", "arguments": {...}}.'
    when = {"auto": " Otherwise answer in plain text.", "required": " Call one now."}
    return [Message("system", f"You can use these tools:\n{described}\n{how}{when.get(mode, '')}")]


def calls(text: str, body: ChatRequest) -> list[ToolCall] | None:
    """The answer as OpenAI's `tool_calls`, or None when it is plain text."""
    if choice(body) in (None, "none") or not text.lstrip().startswith("{"):
        return None
    try:
        call = json.loads(text)
    except json.JSONDecodeError:  # cut short by max_tokens: not a call
        return None
    if not isinstance(call, dict) or "name" not in call:
        return None
    arguments = json.dumps(call.get("arguments", {}), ensure_ascii=False)
    function = ToolCallFunction(name=str(call["name"]), arguments=arguments)
    return [ToolCall(id=f"call_{uuid.uuid4().hex[:24]}", function=function)]
