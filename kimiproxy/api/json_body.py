"""Reading a JSON request body: every way it can be malformed is a 400 (or 413), never a 500."""

from __future__ import annotations

import json

from flask import current_app, request

from kimiproxy.errors import InvalidRequest, PayloadTooLarge


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not valid JSON")


def read_json_body() -> object:
    """The parsed body. Refuses empty, oversized, non-UTF-8, non-JSON (``NaN`` included), too
    deeply nested bodies, and lone surrogates, which can be neither sent on nor answered in
    UTF-8."""
    raw = request.get_data(cache=False)
    limit = current_app.config["MAX_CONTENT_LENGTH"]
    # A chunked body has no Content-Length to refuse up front, and the input stream stops
    # quietly at the limit: a body that reached it is taken as one that went past it.
    if request.content_length is None and limit and len(raw) >= limit:
        raise PayloadTooLarge(
            f"the request body is larger than the {limit}-byte limit (MAX_BODY_BYTES)"
        )
    if not raw:
        raise InvalidRequest("the request body is empty: send a JSON object")
    try:
        body = json.loads(raw, parse_constant=_reject_constant)
        json.dumps(body, ensure_ascii=False).encode("utf-8")
    except RecursionError:
        raise InvalidRequest("the request body is nested too deeply") from None
    except UnicodeEncodeError:
        raise InvalidRequest("the request body holds invalid Unicode (a lone surrogate)") from None
    except ValueError as exc:  # also malformed UTF-8
        raise InvalidRequest(f"the request body is not valid JSON: {exc}") from None
    return body
