"""The rules every OpenAI chat answer obeys, as pure functions over raw lines, chunks and bodies.

Each check returns a list of :class:`Violation` (empty when the rules hold), naming the rule and
quoting the offending line, chunk or body. Rule names are stable; the README lists them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from . import sse
from .answers import (
    Answer,
    accumulate_tool_call,
    arguments_are_json,
    choices_of,
    join_chunks,
)
from .body_invariants import (
    ALLOWED_FINISH_REASONS,
    check_completion,
    check_error_object,
    check_model,
    check_models_list,
    check_usage_object,
)
from .violations import Violation, describe_type, evidence

__all__ = [
    "ALLOWED_FINISH_REASONS",
    "Answer",
    "StreamCheck",
    "check_chunks",
    "check_completion",
    "check_error_object",
    "check_model",
    "check_models_list",
    "check_stream",
    "check_usage_object",
    "join_chunks",
]


@dataclass
class StreamCheck:
    """The result of checking one streamed answer."""

    answer: Answer
    chunks: list[dict] = field(default_factory=list)
    violations: list[Violation] = field(default_factory=list)


def check_stream(
    lines: list[str], *, include_usage: bool = False, expect_error: bool = False
) -> StreamCheck:
    """Check a chat completion stream given as its decoded lines (see :func:`sse.split_lines`)."""
    found: list[Violation] = []
    named = sse.event_lines(lines)
    if named:
        number, line = named[0]
        message = (
            f"{len(named)} `event:` line(s), the first on line {number} (OpenAI streams have none)"
        )
        found.append(Violation("stream.no-event-lines", message, line))
    events = sse.parse_events(lines)
    chunks, error_chunk = _decode_payloads(events, found)
    answer = join_chunks(chunks)
    if error_chunk is not None:
        answer.error = error_chunk
        found += [
            v.with_prefix("in the mid-stream error chunk: ")
            for v in check_error_object(error_chunk)
        ]
        if not expect_error:
            found.append(
                Violation(
                    "stream.unexpected-error",
                    "the stream carries an error chunk",
                    evidence(error_chunk),
                )
            )
    elif expect_error:
        found.append(
            Violation("stream.expected-error", "the stream ended without the expected error chunk")
        )
    found += check_chunks(chunks, include_usage=include_usage, finished=error_chunk is None)
    return StreamCheck(answer, chunks, found)


def _decode_payloads(
    events: list[sse.SseEvent], found: list[Violation]
) -> tuple[list[dict], dict | None]:
    """Parse data payloads; check ``[DONE]`` comes last and an error chunk is the last chunk."""
    chunks: list[dict] = []
    error_chunk: dict | None = None
    done_at: int | None = None
    for index, event in enumerate(events):
        if event.data.strip() == "[DONE]":
            if done_at is None:
                done_at = index
            continue
        if done_at is not None:
            found.append(
                Violation("stream.done-terminates", "data after `data: [DONE]`", event.raw)
            )
            continue
        try:
            payload = json.loads(event.data)
        except ValueError:
            found.append(
                Violation("stream.data-json", f"data on line {event.line} is not JSON", event.raw)
            )
            continue
        if not isinstance(payload, dict):
            found.append(
                Violation("stream.data-json", "a data payload is not a JSON object", event.raw)
            )
            continue
        if "error" in payload and "choices" not in payload:
            if error_chunk is not None:
                found.append(Violation("stream.error-last", "a second error chunk", event.raw))
            error_chunk = payload
            continue
        if error_chunk is not None:
            found.append(Violation("stream.error-last", "a chunk after the error chunk", event.raw))
        chunks.append(payload)
    if done_at is None:
        last = events[-1].raw if events else "(no data at all)"
        found.append(
            Violation("stream.done-terminates", "the stream ended without `data: [DONE]`", last)
        )
    return chunks, error_chunk


def check_chunks(
    chunks: list[dict], *, include_usage: bool = False, finished: bool = True
) -> list[Violation]:
    """The per-chunk rules: object, one id/created, role, empty deltas, tool-call fragments,
    finish reason, usage.

    ``finished`` is false when the stream ended in an error chunk: then no finish reason and no
    usage chunk are due.
    """
    found: list[Violation] = []
    if not chunks:
        if finished:
            found.append(
                Violation("stream.no-chunks", "the stream carries no chat.completion.chunk")
            )
        return found
    found += _same_value(chunks, "id", "stream.single-id")
    found += _same_value(chunks, "created", "stream.single-created")
    for chunk in chunks:
        if chunk.get("object") != "chat.completion.chunk":
            message = f'`object` is {json.dumps(chunk.get("object"))}, not "chat.completion.chunk"'
            found.append(Violation("stream.object", message, evidence(chunk)))
            break
    found += _check_deltas(chunks, finished)
    found += _check_tool_calls(chunks, finished)
    if include_usage and finished:
        found += _check_usage(chunks)
    return found


def _same_value(chunks: list[dict], key: str, rule: str) -> list[Violation]:
    first = chunks[0].get(key)
    if first is None:
        return [Violation(rule, f"the first chunk has no `{key}`", evidence(chunks[0]))]
    for number, chunk in enumerate(chunks[1:], start=2):
        if chunk.get(key) != first:
            message = (
                f"chunk {number} has `{key}` {json.dumps(chunk.get(key))}, "
                f"the first had {json.dumps(first)}"
            )
            return [Violation(rule, message, evidence(chunk))]
    return []


def _check_deltas(chunks: list[dict], finished: bool) -> list[Violation]:
    found: list[Violation] = []
    seen: dict[int, int] = {}
    finishes: dict[int, list[int]] = {}
    last_of: dict[int, int] = {}
    for position, chunk in enumerate(chunks):
        for choice in choices_of(chunk):
            index = choice.get("index", 0)
            delta = choice.get("delta")
            count = seen.get(index, 0)
            seen[index] = count + 1
            last_of[index] = position
            if not isinstance(delta, dict):
                found.append(
                    Violation("stream.delta", "a choice has no `delta` object", evidence(chunk))
                )
                continue
            role = delta.get("role")
            if count == 0 and role != "assistant":
                message = (
                    f"the first delta of choice {index} has role {json.dumps(role)}, "
                    'not "assistant"'
                )
                found.append(Violation("stream.first-delta-role", message, evidence(chunk)))
            elif count > 0 and role is not None:
                message = (
                    f"delta {count + 1} of choice {index} repeats `role` "
                    "(only the first delta has one)"
                )
                found.append(Violation("stream.role-only-first", message, evidence(chunk)))
            if count > 0 and delta.get("content") == "":
                message = f"delta {count + 1} of choice {index} has empty-string content"
                found.append(Violation("stream.no-empty-content", message, evidence(chunk)))
            if choice.get("finish_reason") is not None:
                finishes.setdefault(index, []).append(position)
    found += _check_finish(chunks, seen, finishes, last_of, finished)
    return _first_per_rule(found)


def _check_finish(chunks, seen, finishes, last_of, finished) -> list[Violation]:
    found: list[Violation] = []
    for index in seen:
        positions = finishes.get(index, [])
        if not positions:
            if finished:
                message = f"no chunk of choice {index} carries a finish_reason"
                found.append(
                    Violation(
                        "stream.finish-reason-count", message, evidence(chunks[last_of[index]])
                    )
                )
            continue
        if len(positions) > 1:
            message = (
                f"{len(positions)} chunks of choice {index} carry a finish_reason (exactly one may)"
            )
            found.append(
                Violation("stream.finish-reason-count", message, evidence(chunks[positions[1]]))
            )
        if positions[-1] != last_of[index]:
            message = f"the finish_reason of choice {index} is not in its last chunk"
            found.append(
                Violation("stream.finish-reason-last", message, evidence(chunks[positions[-1]]))
            )
        for position in positions:
            reason = _choice_finish(chunks[position], index)
            if reason not in ALLOWED_FINISH_REASONS:
                allowed = sorted(ALLOWED_FINISH_REASONS)
                message = f"finish_reason {json.dumps(reason)} is not one of {allowed}"
                found.append(
                    Violation("stream.finish-reason-allowed", message, evidence(chunks[position]))
                )
    return found


def _choice_finish(chunk: dict, index: int) -> object:
    for choice in choices_of(chunk):
        if choice.get("index", 0) == index and choice.get("finish_reason") is not None:
            return choice["finish_reason"]
    return None


def _check_tool_calls(chunks: list[dict], finished: bool) -> list[Violation]:
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
    return _first_per_rule(found)


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


def _first_per_rule(found: list[Violation]) -> list[Violation]:
    """Keep the first violation of each rule: one bad chunk usually repeats on every chunk."""
    seen: set[str] = set()
    kept: list[Violation] = []
    for violation in found:
        if violation.rule not in seen:
            seen.add(violation.rule)
            kept.append(violation)
    return kept


def _check_usage(chunks: list[dict]) -> list[Violation]:
    found: list[Violation] = []
    last = chunks[-1]
    with_usage = [c for c in chunks if c.get("usage") is not None]
    if not with_usage:
        message = "stream_options.include_usage was set but no chunk carries `usage`"
        return [Violation("stream.usage-chunk", message, evidence(last))]
    if last.get("usage") is None:
        message = "the last chunk must be the usage chunk, but it has no `usage`"
        found.append(Violation("stream.usage-chunk", message, evidence(last)))
    elif last.get("choices") != []:
        count = (
            len(last["choices"]) if isinstance(last.get("choices"), list) else last.get("choices")
        )
        message = f"the usage chunk must have `choices: []`, it has {count} choice(s)"
        found.append(Violation("stream.usage-chunk", message, evidence(last)))
    else:
        found += check_usage_object(last["usage"], "stream.usage-complete", last)
    for chunk in chunks[:-1]:
        if chunk.get("usage") is not None:
            message = "`usage` must be null or absent on every chunk but the last"
            found.append(Violation("stream.usage-only-last", message, evidence(chunk)))
            break
    return found
