"""Rules for whole JSON bodies: a chat completion, an OpenAI error object, the model list.

Written from the OpenAI description so that they hold even where the schema checks are off;
:mod:`schema` adds the full schema validation on top.
"""

from __future__ import annotations

import json

from .answers import arguments_are_json
from .violations import Violation, describe_type, evidence

ALLOWED_FINISH_REASONS = frozenset(
    {"stop", "length", "tool_calls", "content_filter", "function_call"}
)
USAGE_FIELDS = ("prompt_tokens", "completion_tokens", "total_tokens")
ERROR_FIELDS = {
    "message": (str,),
    "type": (str,),
    "param": (str, type(None)),
    "code": (str, type(None)),
}


def check_completion(body: object) -> list[Violation]:
    """A non-streamed chat completion: fields and types, role, tool calls, a finish reason from
    the set (``tool_calls`` exactly when the message has tool calls)."""
    if not isinstance(body, dict):
        return [
            Violation(
                "completion.object",
                f"the body is {describe_type(body)}, not an object",
                evidence(body),
            )
        ]
    found: list[Violation] = []
    if body.get("object") != "chat.completion":
        message = f'`object` is {json.dumps(body.get("object"))}, not "chat.completion"'
        found.append(Violation("completion.object", message, evidence(body)))
    for key, kind, name in (
        ("id", str, "a string"),
        ("created", int, "an integer"),
        ("model", str, "a string"),
    ):
        value = body.get(key)
        if not isinstance(value, kind) or isinstance(value, bool):
            message = f"`{key}` is {describe_type(value)}, not {name}"
            found.append(Violation("completion.fields", message, evidence(body)))
    choices = body.get("choices")
    if not isinstance(choices, list) or not choices:
        message = f"`choices` is {describe_type(choices)}; a completion has at least one choice"
        return found + [Violation("completion.choices", message, evidence(body))]
    for choice in choices:
        found += _check_choice(choice)
    if "usage" in body and body["usage"] is not None:
        found += check_usage_object(body["usage"], "completion.usage", body)
    return found


def _check_choice(choice: object) -> list[Violation]:
    if not isinstance(choice, dict):
        return [Violation("completion.choices", "a choice is not an object", evidence(choice))]
    found: list[Violation] = []
    message = choice.get("message")
    if not isinstance(message, dict):
        return [
            Violation("completion.message", "a choice has no `message` object", evidence(choice))
        ]
    if message.get("role") != "assistant":
        text = f'`message.role` is {json.dumps(message.get("role"))}, not "assistant"'
        found.append(Violation("completion.role", text, evidence(choice)))
    content = message.get("content")
    if not isinstance(content, str) and not (content is None and message.get("tool_calls")):
        text = f"`message.content` is {describe_type(content)}, not a string"
        found.append(Violation("completion.content", text, evidence(choice)))
    reason = choice.get("finish_reason")
    if reason is None:
        found.append(
            Violation("completion.finish-reason", "`finish_reason` is not set", evidence(choice))
        )
    elif reason not in ALLOWED_FINISH_REASONS:
        text = f"finish_reason {json.dumps(reason)} is not one of {sorted(ALLOWED_FINISH_REASONS)}"
        found.append(Violation("completion.finish-reason", text, evidence(choice)))
    found += _check_tool_calls(message.get("tool_calls"), reason, choice)
    if not isinstance(choice.get("index"), int):
        text = f"`index` is {describe_type(choice.get('index'))}, not an integer"
        found.append(Violation("completion.fields", text, evidence(choice)))
    return found


def _check_tool_calls(calls: object, reason: object, choice: dict) -> list[Violation]:
    """``message.tool_calls``: absent, null or an array of complete function calls; the finish
    reason is ``tool_calls`` exactly when there is one."""
    found: list[Violation] = []
    if calls is not None and not isinstance(calls, list):
        text = f"`message.tool_calls` is {describe_type(calls)}, not an array"
        return [Violation("completion.tool-calls", text, evidence(choice))]
    for number, call in enumerate(calls or []):
        problem = _tool_call_problem(call)
        if problem:
            text = f"`message.tool_calls[{number}]` {problem}"
            found.append(Violation("completion.tool-calls", text, evidence(choice)))
            break
    if calls and reason is not None and reason != "tool_calls":
        text = (
            f"the message has tool calls but finish_reason is {json.dumps(reason)}, "
            'not "tool_calls"'
        )
        found.append(Violation("completion.finish-reason-tool-calls", text, evidence(choice)))
    elif reason == "tool_calls" and not calls:
        text = 'finish_reason is "tool_calls" but the message has no tool call'
        found.append(Violation("completion.finish-reason-tool-calls", text, evidence(choice)))
    return found


def _tool_call_problem(call: object) -> str | None:
    """What is wrong with one non-streamed tool call, or ``None``."""
    if not isinstance(call, dict):
        return f"is {describe_type(call)}, not an object"
    if not isinstance(call.get("id"), str) or not call["id"]:
        return f"has `id` {describe_type(call.get('id'))}, not a non-empty string"
    if call.get("type") != "function":
        return f'has `type` {json.dumps(call.get("type"))}, not "function"'
    function = call.get("function")
    if not isinstance(function, dict):
        return f"has `function` {describe_type(function)}, not an object"
    if not isinstance(function.get("name"), str) or not function["name"]:
        return f"has `function.name` {describe_type(function.get('name'))}, not a non-empty string"
    arguments = function.get("arguments")
    if not isinstance(arguments, str):
        return f"has `function.arguments` {describe_type(arguments)}, not a string"
    if not arguments_are_json(arguments):
        return "has `function.arguments` that do not parse as JSON"
    return None


def check_error_object(body: object) -> list[Violation]:
    """An OpenAI error body: ``{"error": {"message", "type", "param", "code"}}``, typed."""
    if not isinstance(body, dict) or not isinstance(body.get("error"), dict):
        message = 'the body is not an OpenAI error object `{"error": {...}}`'
        return [Violation("error.envelope", message, evidence(body))]
    error = body["error"]
    found: list[Violation] = []
    for name, kinds in ERROR_FIELDS.items():
        if name not in error:
            found.append(Violation("error.fields", f"`error.{name}` is missing", evidence(body)))
            continue
        value = error[name]
        if not isinstance(value, kinds) or isinstance(value, bool):
            wanted = "a string" if type(None) not in kinds else "a string or null"
            message = f"`error.{name}` must be {wanted}, got {describe_type(value)}"
            found.append(Violation("error.fields", message, evidence(body)))
    if isinstance(error.get("message"), str) and not error["message"].strip():
        found.append(Violation("error.fields", "`error.message` is empty", evidence(body)))
    return found


def check_usage_object(usage: object, rule: str, where: object) -> list[Violation]:
    """A complete usage object: the three token counts, each a non-negative integer."""
    if not isinstance(usage, dict):
        return [
            Violation(rule, f"`usage` is {describe_type(usage)}, not an object", evidence(where))
        ]
    for name in USAGE_FIELDS:
        value = usage.get(name)
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            message = f"`usage.{name}` is {describe_type(value)}, not a non-negative integer"
            return [Violation(rule, message, evidence(where))]
    return []


def check_model(body: object, rule: str = "models.model") -> list[Violation]:
    """One model object: ``id``, ``object: "model"``, ``created``, ``owned_by``."""
    if not isinstance(body, dict):
        return [
            Violation(rule, f"the model is {describe_type(body)}, not an object", evidence(body))
        ]
    checks = (
        ("id", isinstance(body.get("id"), str) and body["id"] != "", "a non-empty string"),
        ("object", body.get("object") == "model", '"model"'),
        (
            "created",
            isinstance(body.get("created"), int) and not isinstance(body["created"], bool),
            "an integer",
        ),
        ("owned_by", isinstance(body.get("owned_by"), str), "a string"),
    )
    for key, ok, wanted in checks:
        if not ok:
            message = f"`{key}` is {describe_type(body.get(key))}, not {wanted}"
            return [Violation(rule, message, evidence(body))]
    return []


def check_models_list(body: object) -> list[Violation]:
    """``GET /models``: ``{"object": "list", "data": [model, ...]}``."""
    if not isinstance(body, dict):
        return [
            Violation(
                "models.list", f"the body is {describe_type(body)}, not an object", evidence(body)
            )
        ]
    found: list[Violation] = []
    if body.get("object") != "list":
        message = f'`object` is {json.dumps(body.get("object"))}, not "list"'
        found.append(Violation("models.list", message, evidence(body)))
    data = body.get("data")
    if not isinstance(data, list):
        return found + [
            Violation(
                "models.list", f"`data` is {describe_type(data)}, not an array", evidence(body)
            )
        ]
    for model in data:
        problems = check_model(model, "models.list")
        if problems:
            return found + problems
    return found
