"""The rules on streamed tool calls: how ``delta.tool_calls`` fragments start, continue and join
into JSON arguments, and the finish reason of a choice that streamed them.
"""

from __future__ import annotations

import json

from .answers import accumulate_tool_call, arguments_are_json, choices_of
from .violations import Violation, describe_type, evidence, first_per_rule


def check_tool_calls(chunks: list[dict], finished: bool) -> list[Violation]:
    """OpenAI's tool-call fragments: ``delta.tool_calls`` is an array of objects with an integer
    ``index``; the first fragment of an index has ``id``, ``type: "function"`` and
    ``function.name``, later ones add ``function.arguments`` (strings) and repeat neither the id
    nor the name; joined, the arguments are JSON; a choice that streamed tool calls finishes with
    ``tool_calls``, and only such a choice does. ``finished`` is false after an error chunk: then
    the calls may be incomplete."""
    found: list[Violation] = []
    calls: dict[int, dict[int, dict]] = {}  # choice index -> tool-call index -> joined call
    reasons: dict[int, tuple[object, dict]] = {}
    streamed: set[int] = set()  # choices with tool-call fragments, well-formed or not
    for chunk in chunks:
        for choice in choices_of(chunk):
            index = choice.get("index", 0)
            if choice.get("finish_reason") is not None:
                reasons[index] = (choice["finish_reason"], chunk)
            delta = choice.get("delta")
            if not isinstance(delta, dict) or delta.get("tool_calls") is None:
                continue
            if delta["tool_calls"] != []:
                streamed.add(index)
            found += _check_fragments(delta["tool_calls"], calls.setdefault(index, {}), chunk)
    for index, (reason, chunk) in reasons.items():
        if index in streamed and reason != "tool_calls":
            message = (
                f"choice {index} streamed tool calls but finishes with {json.dumps(reason)}, "
                'not "tool_calls"'
            )
            found.append(Violation("stream.finish-reason-tool-calls", message, evidence(chunk)))
        elif reason == "tool_calls" and index not in streamed:
            message = f'choice {index} finishes with "tool_calls" but streamed no tool call'
            found.append(Violation("stream.finish-reason-tool-calls", message, evidence(chunk)))
    if finished:
        for index, joined in calls.items():
            for number, call in sorted(joined.items()):
                arguments = call["arguments"]
                if isinstance(arguments, str) and not arguments_are_json(arguments):
                    message = (
                        f"the joined `function.arguments` of tool call {number} (choice {index}) "
                        "do not parse as JSON"
                    )
                    found.append(
                        Violation("stream.tool-call-arguments", message, evidence(arguments))
                    )
                elif arguments is None:
                    message = f"tool call {number} (choice {index}) has no `function.arguments`"
                    found.append(Violation("stream.tool-call-arguments", message, evidence(call)))
    return first_per_rule(found)


def _check_fragments(fragments: object, joined: dict[int, dict], chunk: dict) -> list[Violation]:
    """One delta's ``tool_calls``, added to ``joined`` (the calls of its choice so far)."""
    if not isinstance(fragments, list):
        message = f"`delta.tool_calls` is {describe_type(fragments)}, not an array"
        return [Violation("stream.tool-call-index", message, evidence(chunk))]
    found: list[Violation] = []
    for fragment in fragments:
        index = fragment.get("index") if isinstance(fragment, dict) else None
        if not isinstance(index, int) or isinstance(index, bool):
            what = "a tool-call fragment" if isinstance(fragment, dict) else "a non-object entry"
            message = f"{what} in `delta.tool_calls` has no integer `index`"
            found.append(Violation("stream.tool-call-index", message, evidence(chunk)))
            continue
        function = fragment.get("function")
        if function is not None and not isinstance(function, dict):
            message = f"`function` of tool call {index} is {describe_type(function)}, not an object"
            found.append(Violation("stream.tool-call-start", message, evidence(chunk)))
            function = None
        function = function or {}
        if index not in joined:
            missing = [
                label
                for label, ok in (
                    ("`id`", _nonempty_string(fragment.get("id"))),
                    ('`type: "function"`', fragment.get("type") == "function"),
                    ("`function.name`", _nonempty_string(function.get("name"))),
                )
                if not ok
            ]
            if missing:
                message = f"the first fragment of tool call {index} lacks {', '.join(missing)}"
                found.append(Violation("stream.tool-call-start", message, evidence(chunk)))
        else:
            repeated = [
                label
                for label, value in (
                    ("`id`", fragment.get("id")),
                    ("`function.name`", function.get("name")),
                )
                if value not in (None, "")
            ]
            if repeated:
                message = (
                    f"a later fragment of tool call {index} repeats {' and '.join(repeated)} "
                    "(the Python SDK's stream helper joins string fields, so only the first "
                    "fragment may carry them)"
                )
                found.append(Violation("stream.tool-call-fragments", message, evidence(chunk)))
        arguments = function.get("arguments")
        if arguments is not None and not isinstance(arguments, str):
            message = (
                f"a `function.arguments` fragment of tool call {index} is "
                f"{describe_type(arguments)}, not a string"
            )
            found.append(Violation("stream.tool-call-arguments", message, evidence(chunk)))
        accumulate_tool_call(joined, index, fragment)
    return found


def _nonempty_string(value: object) -> bool:
    return isinstance(value, str) and value != ""
