"""The rules every OpenAI chat answer obeys, as pure functions over raw lines, chunks and bodies.

Each check returns a list of :class:`Violation` (empty when the rules hold), naming the rule and
quoting the offending line, chunk or body. Rule names are stable; the README lists them.

This module checks a stream's framing and gathers the rest: the per-chunk rules are in
:mod:`.chunk_invariants`, the tool-call rules in :mod:`.tool_call_invariants`, the rules on whole
bodies in :mod:`.body_invariants`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from . import sse
from .answers import Answer, join_chunks
from .body_invariants import (
    ALLOWED_FINISH_REASONS,
    check_completion,
    check_error_object,
    check_model,
    check_models_list,
    check_usage_object,
)
from .chunk_invariants import check_deltas, check_usage, same_value
from .tool_call_invariants import check_tool_calls
from .violations import Violation, evidence

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
    found += same_value(chunks, "id", "stream.single-id")
    found += same_value(chunks, "created", "stream.single-created")
    for chunk in chunks:
        if chunk.get("object") != "chat.completion.chunk":
            message = f'`object` is {json.dumps(chunk.get("object"))}, not "chat.completion.chunk"'
            found.append(Violation("stream.object", message, evidence(chunk)))
            break
    found += check_deltas(chunks, finished)
    found += check_tool_calls(chunks, finished)
    if include_usage and finished:
        found += check_usage(chunks)
    return found
