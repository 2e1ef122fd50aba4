"""The rules on a stream's chunks one by one: one ``id`` and ``created``, the role in the first
delta only, no empty content, exactly one allowed finish reason last, the usage chunk last.
"""

from __future__ import annotations

import json

from .answers import choices_of
from .body_invariants import ALLOWED_FINISH_REASONS, check_usage_object
from .violations import Violation, evidence, first_per_rule


def same_value(chunks: list[dict], key: str, rule: str) -> list[Violation]:
    """Every chunk carries the first chunk's ``key`` (``id``, ``created``)."""
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


def check_deltas(chunks: list[dict], finished: bool) -> list[Violation]:
    """Each choice's deltas: a ``delta`` object, the role first and only first, no empty content,
    one allowed finish reason in its last chunk (none is due when not ``finished``)."""
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
    return first_per_rule(found)


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


def check_usage(chunks: list[dict]) -> list[Violation]:
    """With ``include_usage``: the last chunk, and only it, is a complete usage chunk."""
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
