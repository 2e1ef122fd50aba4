"""Checking the tool-calling fields of a request: ``tools``, ``tool_choice``, and the
``tool_calls`` of earlier assistant messages. Every problem is a 400 naming the field. Once
checked, :func:`tools_active` tells whether the request puts tools in play."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from kimiproxy.errors import InvalidRequest

if TYPE_CHECKING:
    from kimiproxy.chat.request import ChatRequest

TOOL_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def _bad(message: str, param: str) -> InvalidRequest:
    return InvalidRequest(message, param=param)


def read_tools(raw: object) -> list[dict]:
    """The ``tools`` field as ``[{"name", "description", "parameters"}]``."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise _bad("'tools' must be an array", "tools")
    tools = []
    for i, tool in enumerate(raw):
        where = f"tools[{i}]"
        if not isinstance(tool, dict) or tool.get("type") != "function":
            raise _bad(f'\'{where}\' must be an object with "type": "function"', where)
        function = tool.get("function")
        if not isinstance(function, dict):
            raise _bad(f"'{where}.function' must be an object", f"{where}.function")
        name = function.get("name")
        if not isinstance(name, str) or not TOOL_NAME.match(name):
            raise _bad(
                f"'{where}.function.name' must be 1-64 letters, digits, '_' or '-'",
                f"{where}.function.name",
            )
        parameters = function.get("parameters", {})
        if not isinstance(parameters, dict):
            raise _bad(
                f"'{where}.function.parameters' must be a JSON Schema object",
                f"{where}.function.parameters",
            )
        description = function.get("description", "")
        if not isinstance(description, str):
            raise _bad(
                f"'{where}.function.description' must be a string", f"{where}.function.description"
            )
        tools.append({"name": name, "description": description, "parameters": parameters})
    return tools


def read_tool_choice(raw: object, tools: list[dict]) -> str | dict:
    """``none``, ``auto``, ``required`` or ``{"name": …}`` for one named function."""
    if raw is None:
        return "auto" if tools else "none"
    if raw in ("none", "auto", "required"):
        if raw == "required" and not tools:
            raise _bad("'tool_choice' is 'required' but no 'tools' were given", "tool_choice")
        return raw
    if isinstance(raw, dict) and isinstance(raw.get("function"), dict):
        name = raw["function"].get("name")
        if isinstance(name, str) and name in {t["name"] for t in tools}:
            return {"name": name}
        raise _bad(
            f"'tool_choice' names the function {name!r}, which is not in 'tools'", "tool_choice"
        )
    raise _bad(
        "'tool_choice' must be 'none', 'auto', 'required' or "
        '{"type": "function", "function": {"name": …}}',
        "tool_choice",
    )


def read_message_tool_calls(raw: object, index: int) -> list[dict]:
    """An assistant message's ``tool_calls``, checked."""
    if raw is None:
        return []
    where = f"messages[{index}].tool_calls"
    if not isinstance(raw, list):
        raise _bad(f"'{where}' must be an array", where)
    for j, call in enumerate(raw):
        function = call.get("function") if isinstance(call, dict) else None
        if (
            not isinstance(function, dict)
            or not isinstance(function.get("name"), str)
            or not isinstance(function.get("arguments", ""), str)
        ):
            raise _bad(
                f"'{where}[{j}]' must have a function with a string name and arguments",
                f"{where}[{j}]",
            )
    return raw


def tools_active(request: ChatRequest) -> bool:
    """Whether tools are offered and ``tool_choice`` allows calling them."""
    return bool(request.tools) and request.tool_choice != "none"
