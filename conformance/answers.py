"""What an answer said (content, reasoning, tool calls, finish reason), from deltas or a body."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

_NOT_JSON = object()


@dataclass
class Answer:
    """What an answer said, joined from deltas or read from a message.

    ``tool_calls`` holds ``{"id", "type", "name", "arguments"}`` per call, in index order, with
    ``arguments`` as sent (the joined fragments when streamed: normally a string).
    """

    content: str | None = None
    reasoning: str | None = None
    finish_reason: str | None = None
    role: str | None = None
    usage: dict | None = None
    error: dict | None = None
    tool_calls: list[dict] = field(default_factory=list)


def join_chunks(chunks: list[dict]) -> Answer:
    """Join the deltas of choice 0 into one answer; the usage is the last chunk's, if any."""
    content: list[str] = []
    reasoning: list[str] = []
    calls: dict[int, dict] = {}
    answer = Answer()
    for chunk in chunks:
        if isinstance(chunk.get("usage"), dict):
            answer.usage = chunk["usage"]
        for choice in choices_of(chunk):
            if choice.get("index", 0) != 0:
                continue
            delta = choice.get("delta") if isinstance(choice.get("delta"), dict) else {}
            if isinstance(delta.get("content"), str):
                content.append(delta["content"])
            if isinstance(delta.get("reasoning_content"), str):
                reasoning.append(delta["reasoning_content"])
            if answer.role is None and isinstance(delta.get("role"), str):
                answer.role = delta["role"]
            for fragment in tool_call_fragments(delta):
                index = fragment.get("index")
                accumulate_tool_call(calls, index if isinstance(index, int) else 0, fragment)
            if choice.get("finish_reason") is not None:
                answer.finish_reason = choice["finish_reason"]
    answer.content = "".join(content)
    answer.reasoning = "".join(reasoning) or None
    answer.tool_calls = [calls[i] for i in sorted(calls)]
    return answer


def tool_call_fragments(delta: dict) -> list[dict]:
    """The tool-call fragments of a delta (objects only)."""
    raw = delta.get("tool_calls")
    return [f for f in raw if isinstance(f, dict)] if isinstance(raw, list) else []


def accumulate_tool_call(calls: dict[int, dict], index: int, fragment: dict) -> None:
    """Add one streamed fragment to the call at ``index``: the first ``id``, ``type`` and
    ``function.name`` win, ``function.arguments`` strings are joined (a value that is not a
    string replaces them, so that a check can see it)."""
    call = calls.setdefault(index, {"id": None, "type": None, "name": None, "arguments": None})
    function = fragment.get("function") if isinstance(fragment.get("function"), dict) else {}
    for key, value in (
        ("id", fragment.get("id")),
        ("type", fragment.get("type")),
        ("name", function.get("name")),
    ):
        if call[key] is None and value is not None:
            call[key] = value
    piece = function.get("arguments")
    if piece is None:
        return
    if isinstance(piece, str) and isinstance(call["arguments"], (str, type(None))):
        call["arguments"] = (call["arguments"] or "") + piece
    else:
        call["arguments"] = piece


def choices_of(chunk: dict) -> list[dict]:
    choices = chunk.get("choices")
    return [c for c in choices if isinstance(c, dict)] if isinstance(choices, list) else []


def answer_from_completion(body: object) -> Answer:
    """The first choice of a non-streamed chat completion, as an :class:`Answer`."""
    answer = Answer()
    if not isinstance(body, dict):
        return answer
    if isinstance(body.get("usage"), dict):
        answer.usage = body["usage"]
    for choice in choices_of(body):
        if choice.get("index", 0) != 0:
            continue
        message = choice.get("message") if isinstance(choice.get("message"), dict) else {}
        content = message.get("content")
        answer.content = content if isinstance(content, str) else None
        reasoning = message.get("reasoning_content")
        answer.reasoning = reasoning if isinstance(reasoning, str) and reasoning else None
        answer.role = message.get("role")
        answer.finish_reason = choice.get("finish_reason")
        answer.tool_calls = message_tool_calls(message)
        break
    return answer


def message_tool_calls(message: dict) -> list[dict]:
    """A message's ``tool_calls`` as ``{"id", "type", "name", "arguments"}`` per call."""
    raw = message.get("tool_calls")
    calls = []
    for call in raw if isinstance(raw, list) else []:
        call = call if isinstance(call, dict) else {}
        function = call.get("function") if isinstance(call.get("function"), dict) else {}
        calls.append(
            {
                "id": call.get("id"),
                "type": call.get("type"),
                "name": function.get("name"),
                "arguments": function.get("arguments"),
            }
        )
    return calls


def parse_arguments(arguments: object) -> object:
    """Tool-call arguments parsed as JSON, or :data:`_NOT_JSON` (not a string, or not JSON)."""
    if not isinstance(arguments, str):
        return _NOT_JSON
    try:
        return json.loads(arguments)
    except ValueError:
        return _NOT_JSON


def arguments_are_json(arguments: object) -> bool:
    return parse_arguments(arguments) is not _NOT_JSON


def comparable_tool_calls(calls: list[dict] | None) -> list[dict]:
    """Tool calls as compared across modes, SDKs and expectations: name and parsed arguments
    (arguments that do not parse are kept as sent, marked). Ids are left out: they differ."""
    out = []
    for call in calls or []:
        parsed = parse_arguments(call.get("arguments"))
        if parsed is _NOT_JSON:
            parsed = {"<not JSON>": call.get("arguments")}
        out.append({"name": call.get("name"), "arguments": parsed})
    return out


def describe_tool_calls(calls: list[dict] | None) -> str:
    """A short text for a report: ``get_weather({"city": "Paris"})``, or ``no tool call``."""
    shown = []
    for call in calls or []:
        parsed = parse_arguments(call.get("arguments"))
        if parsed is _NOT_JSON:
            raw = json.dumps(call.get("arguments"), ensure_ascii=False)
            shown.append(f"{call.get('name')}(<arguments not a JSON string: {raw}>)")
        else:
            shown.append(
                f"{call.get('name')}({json.dumps(parsed, ensure_ascii=False, sort_keys=True)})"
            )
    return ", ".join(shown) or "no tool call"


def tool_calls_mismatch(expected: list[dict], calls: list[dict] | None) -> str | None:
    """Why ``calls`` do not meet a scenario's ``tool_calls`` expectation (``None`` when they do).

    Calls are matched in order by name and, where the expectation gives ``arguments``, by the
    parsed JSON of the arguments; ids are never compared.
    """
    got = comparable_tool_calls(calls)
    fits = len(got) == len(expected) and all(
        call["name"] == want.get("name")
        and ("arguments" not in want or call["arguments"] == want["arguments"])
        for call, want in zip(got, expected, strict=False)
    )
    if fits:
        return None
    wanted = ", ".join(
        f"{w.get('name')}({json.dumps(w['arguments'], ensure_ascii=False, sort_keys=True)})"
        if "arguments" in w
        else f"{w.get('name')}(…)"
        for w in expected
    )
    return f"the tool calls are {describe_tool_calls(calls)}, expected {wanted or 'none'}"
