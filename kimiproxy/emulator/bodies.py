"""The one JSON parser every request body (and token payload) goes through.

``json.loads`` raises ``RecursionError``, not ``ValueError``, on deeply nested input, which would
escape as an HTML 500. Here every failure is a :class:`BodyError` that each protocol answers with
its own error (``rest`` ``request.invalid``, Connect ``invalid_argument``). Nesting is also
capped far below the interpreter's limit, so a stored body can always be copied and served back
by the control API.
"""

from __future__ import annotations

import json

from flask import request

# Kimi's bodies nest a handful of levels; anything this deep is not a Kimi request.
MAX_DEPTH = 64


class BodyError(ValueError):
    """A body that is not acceptable JSON (syntax, encoding, nesting or top-level type)."""


def _too_deep(value: object, limit: int) -> bool:
    """Whether ``value`` nests containers more than ``limit`` levels (walked without recursion)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


def parse_json(data: bytes | str) -> object:
    """The JSON value in ``data``; :class:`BodyError` for anything a Kimi server would refuse."""
    try:
        value = json.loads(data)
    except RecursionError:
        raise BodyError("JSON is nested too deeply") from None
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError
        raise BodyError(f"not valid JSON: {exc}") from None
    if _too_deep(value, MAX_DEPTH):
        raise BodyError(f"JSON is nested more than {MAX_DEPTH} levels deep")
    return value


def parse_json_object(data: bytes | str) -> dict:
    """Like :func:`parse_json`, but the value must be an object."""
    value = parse_json(data)
    if not isinstance(value, dict):
        raise BodyError("body must be a JSON object")
    return value


def request_json_object(*, empty: dict | None = None) -> dict:
    """The current request's body as a JSON object.

    An empty body is ``empty`` when given (Connect unary calls may send nothing), else an error.
    """
    data = request.get_data()
    if not data.strip():
        if empty is not None:
            return empty
        raise BodyError("body is empty; a JSON object is required")
    return parse_json_object(data)
