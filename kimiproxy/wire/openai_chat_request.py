"""Reading an OpenAI chat-completion request body into a checked :class:`ChatRequest`.

Every problem is a 400 that names the offending field, so a client never sees a 500 for bad input.
"""

from __future__ import annotations

import re

from kimiproxy.chat.model_names import parse_model
from kimiproxy.chat.request import ChatRequest, Message
from kimiproxy.errors import InvalidRequest
from kimiproxy.tools.request_fields import read_message_tool_calls, read_tool_choice, read_tools

ROLES = {"system", "developer", "user", "assistant", "tool", "function"}
PART_TYPES = {"text", "image_url", "file", "input_text"}
KEEP_NEW_CHAT = "none"
CHAT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")


def _require(condition: bool, message: str, param: str) -> None:
    if not condition:
        raise InvalidRequest(message, param=param)


def _optional(body: dict, name: str, kind: type | tuple, what: str):
    value = body.get(name)
    if value is not None:
        _require(
            isinstance(value, kind) and not (kind is int and isinstance(value, bool)),
            f"'{name}' must be {what}, got {type(value).__name__}",
            name,
        )
    return value


def _read_content(content: object, index: int) -> tuple[str, list[dict]]:
    param = f"messages[{index}].content"
    if content is None or isinstance(content, str):
        return content or "", []
    _require(
        isinstance(content, list), f"'{param}' must be a string or an array of content parts", param
    )
    texts, parts = [], []
    for j, part in enumerate(content):
        where = f"{param}[{j}]"
        _require(isinstance(part, dict), f"'{where}' must be an object", where)
        kind = part.get("type")
        _require(
            isinstance(kind, str) and kind in PART_TYPES,
            f"'{where}.type' must be one of {sorted(PART_TYPES)}, got {kind!r}",
            f"{where}.type",
        )
        if kind in ("text", "input_text"):
            _require(
                isinstance(part.get("text"), str),
                f"'{where}.text' must be a string",
                f"{where}.text",
            )
            texts.append(part["text"])
        else:
            parts.append(part)
    return "\n".join(texts), parts


def _read_messages(raw: object) -> list[Message]:
    _require(raw is not None, "'messages' is required", "messages")
    _require(isinstance(raw, list), "'messages' must be an array", "messages")
    _require(len(raw) > 0, "'messages' must contain at least one message", "messages")
    messages = []
    for i, item in enumerate(raw):
        _require(isinstance(item, dict), f"'messages[{i}]' must be an object", f"messages[{i}]")
        role = item.get("role")
        _require(
            isinstance(role, str) and role in ROLES,
            f"'messages[{i}].role' must be one of {sorted(ROLES)}, got {role!r}",
            f"messages[{i}].role",
        )
        text, parts = _read_content(item.get("content"), i)
        tool_calls = read_message_tool_calls(item.get("tool_calls"), i)
        name = item.get("name")
        _require(
            name is None or isinstance(name, str),
            f"'messages[{i}].name' must be a string",
            f"messages[{i}].name",
        )
        tool_call_id = item.get("tool_call_id")
        _require(
            tool_call_id is None or isinstance(tool_call_id, str),
            f"'messages[{i}].tool_call_id' must be a string",
            f"messages[{i}].tool_call_id",
        )
        messages.append(
            Message(
                role=role, text=text, parts=parts, tool_calls=tool_calls, tool_call_id=tool_call_id
            )
        )
    last = messages[-1]
    _require(
        last.text.strip() or last.parts,
        f"the last message (messages[{len(messages) - 1}]) has no content",
        "messages",
    )
    return messages


def parse_chat_request(body: object, *, strip_citations_default: bool = False) -> ChatRequest:
    """Check ``body`` and return the request, or raise :class:`InvalidRequest`."""
    _require(isinstance(body, dict), "the request body must be a JSON object", None)
    model_name = _optional(body, "model", str, "a string")
    stream = bool(_optional(body, "stream", bool, "a boolean"))
    options = _optional(body, "stream_options", dict, "an object") or {}
    include_usage = options.get("include_usage", False)
    _require(
        isinstance(include_usage, bool),
        "'stream_options.include_usage' must be a boolean",
        "stream_options.include_usage",
    )
    n = _optional(body, "n", int, "an integer")
    _require(n is None or n == 1, f"'n' must be 1: Kimi gives one answer per request, got {n}", "n")
    for name in ("temperature", "top_p", "presence_penalty", "frequency_penalty"):
        _optional(body, name, (int, float), "a number")
    for name in ("max_tokens", "max_completion_tokens"):
        limit = _optional(body, name, int, "an integer")
        _require(limit is None or limit > 0, f"'{name}' must be at least 1, got {limit}", name)
    use_search = bool(_optional(body, "use_search", bool, "a boolean"))
    strip = _optional(body, "strip_citations", bool, "a boolean")
    conversation_id = _optional(body, "conversation_id", str, "a string")
    messages = _read_messages(body.get("messages"))
    tools = read_tools(body.get("tools"))
    tool_choice = read_tool_choice(body.get("tool_choice"), tools)
    keep = conversation_id is not None
    if conversation_id is not None and conversation_id.strip().lower() in (KEEP_NEW_CHAT, ""):
        conversation_id = None
    # The id ends up in upstream URLs: anything but an id's shape is refused, not passed on.
    _require(
        conversation_id is None or CHAT_ID.match(conversation_id) is not None,
        "'conversation_id' must be a Kimi chat id (letters, digits, '-' and '_', at most "
        '64), or "none" to start a chat that is kept',
        "conversation_id",
    )
    return ChatRequest(
        model_name=model_name or "kimi",
        model=parse_model(model_name, use_search=use_search),
        messages=messages,
        stream=stream,
        include_usage=stream and include_usage,
        conversation_id=conversation_id,
        keep_chat=keep,
        strip_citations=strip_citations_default if strip is None else strip,
        tools=tools,
        tool_choice=tool_choice,
        body=body,
    )
