"""Judge what an SDK returned against the scenario's expectations and the raw exchange.

An SDK outcome is the JSON both runners produce (see :func:`python_runner.run_job`). Errors must
surface as the SDK exception class the status maps to, with the server's message intact;
answers must meet the scenario's content expectations.
"""

from __future__ import annotations

import re

from .answers import comparable_tool_calls, describe_tool_calls, tool_calls_mismatch
from .jobs import fill
from .raw_checks import RawVerdict
from .violations import Violation, evidence

STATUS_CLASSES = {
    400: "BadRequestError",
    401: "AuthenticationError",
    403: "PermissionDeniedError",
    404: "NotFoundError",
    409: "ConflictError",
    422: "UnprocessableEntityError",
    429: "RateLimitError",
}


def expected_error_class(expect: dict) -> str | None:
    """The exception class the scenario expects, or ``None`` when it expects an answer."""
    if expect.get("error_class"):
        return expect["error_class"]
    if expect.get("mid_stream_error"):
        return "APIError"
    status = expect.get("status", 200)
    if status == 200:
        return None
    if status == "5xx" or (isinstance(status, int) and status >= 500):
        return "InternalServerError"
    return (
        STATUS_CLASSES.get(status, "APIStatusError")
        if isinstance(status, int)
        else "APIStatusError"
    )


def check_outcome(
    outcome: dict,
    expect: dict,
    *,
    operation: str,
    model: str,
    raw: list[RawVerdict] | None = None,
) -> list[Violation]:
    """Violations of one SDK outcome (all its concurrent items); ``raw`` aligns with the items."""
    if "crash" in outcome:
        return [Violation("runner.crash", "the SDK runner crashed", evidence(outcome["crash"]))]
    found: list[Violation] = []
    items = outcome.get("items", [])
    for index, item in enumerate(items):
        values = {"i": str(index), "model": model}
        reference = raw[index] if raw and index < len(raw) else None
        problems = _check_item(item, fill(expect, values), operation, reference)
        if len(items) > 1:
            problems = [p.with_prefix(f"request #{index}: ") for p in problems]
        found += problems
    wanted = expect.get("attempts")
    if wanted is not None and outcome.get("attempts") != wanted:
        sent = outcome.get("attempts")
        message = f"the SDK sent {sent} request(s), expected {wanted} (retries included)"
        found.append(Violation("sdk.attempts", message))
    return found


def _check_item(
    item: dict, expect: dict, operation: str, raw: RawVerdict | None
) -> list[Violation]:
    wanted_class = expected_error_class(expect)
    if wanted_class is not None:
        exact = bool(expect.get("mid_stream_error"))
        return _check_error(item, wanted_class, raw, exact=exact)
    if not item.get("ok"):
        error = item.get("error", {})
        classes = error.get("classes") or ["?"]
        rule = (
            "sdk.strict-validation"
            if "APIResponseValidationError" in classes
            else "sdk.call-failed"
        )
        return [Violation(rule, f"the SDK raised {classes[0]}: {error.get('message')}")]
    if operation == "chat":
        return _check_answer(item, expect, raw)
    return _check_models(item, expect)


def _check_error(
    item: dict, wanted: str, raw: RawVerdict | None, *, exact: bool = False
) -> list[Violation]:
    """``exact``: the class itself, not a subclass (a mid-stream error is ``APIError`` proper,
    not e.g. the ``APIConnectionError`` of a dropped connection)."""
    if item.get("ok"):
        text = f"expected the SDK to raise {wanted}, but the call succeeded"
        return [Violation("sdk.error-expected", text, evidence(item.get("content") or item))]
    error = item.get("error", {})
    classes = error.get("classes") or []
    found: list[Violation] = []
    if (classes[:1] != [wanted]) if exact else (wanted not in classes):
        got = classes[0] if classes else "?"
        status = error.get("status")
        text = f"expected {wanted}, the SDK raised {got} (status {status}): {error.get('message')}"
        found.append(Violation("sdk.error-class", text))
    server_message = raw.error_message if raw else None
    if server_message:
        if error.get("body_message") != server_message:
            text = (
                f"the SDK's error object has message {error.get('body_message')!r}, "
                f"the server sent {server_message!r}"
            )
            found.append(Violation("sdk.error-message", text))
        elif server_message not in (error.get("message") or ""):
            text = (
                f"the exception text {error.get('message')!r} does not contain the server's message"
            )
            found.append(Violation("sdk.error-message", text))
    return found


def _check_answer(item: dict, expect: dict, raw: RawVerdict | None) -> list[Violation]:
    found: list[Violation] = []
    content = item.get("content") or ""
    shown = evidence(content)
    calls = item.get("tool_calls") or []
    if expect.get("nonempty_content", not expect.get("tool_calls")) and not content:
        found.append(Violation("expect.nonempty-content", "the answer has no content"))
    if "content" in expect and content != expect["content"]:
        found.append(Violation("expect.content", f"the answer is not {expect['content']!r}", shown))
    for needle in expect.get("content_contains", []):
        if needle not in content:
            found.append(
                Violation(
                    "expect.content-contains", f"the answer does not contain {needle!r}", shown
                )
            )
    for needle in expect.get("content_excludes", []):
        if needle in content:
            found.append(
                Violation("expect.content-excludes", f"the answer contains {needle!r}", shown)
            )
    if "content_regex" in expect and not re.search(expect["content_regex"], content, re.DOTALL):
        text = f"the answer does not match /{expect['content_regex']}/"
        found.append(Violation("expect.content-regex", text, shown))
    reasoning = item.get("reasoning") or ""
    if expect.get("reasoning") and not reasoning:
        found.append(Violation("expect.reasoning", "no reasoning_content came with the answer"))
    for needle in expect.get("reasoning_contains", []):
        if needle not in reasoning:
            text = f"reasoning_content does not contain {needle!r}"
            found.append(Violation("expect.reasoning-contains", text, evidence(reasoning)))
    if "finish_reason" in expect and item.get("finish_reason") != expect["finish_reason"]:
        text = (
            f"finish_reason is {item.get('finish_reason')!r}, expected {expect['finish_reason']!r}"
        )
        found.append(Violation("expect.finish-reason", text))
    if "tool_calls" in expect:
        problem = tool_calls_mismatch(expect["tool_calls"], calls)
        if problem:
            found.append(Violation("expect.tool-calls", problem, evidence(calls)))
    if expect.get("deterministic") and raw is not None and raw.answer is not None:
        if content != (raw.answer.content or ""):
            text = "the SDK's answer differs from the raw HTTP answer to the same request"
            found.append(
                Violation(
                    "sdk.same-as-raw", text, f"sdk: {shown}\nraw: {evidence(raw.answer.content)}"
                )
            )
        if comparable_tool_calls(calls) != comparable_tool_calls(raw.answer.tool_calls):
            text = "the SDK's tool calls differ from the raw HTTP answer to the same request"
            shown_calls = (
                f"sdk: {describe_tool_calls(calls)}\n"
                f"raw: {describe_tool_calls(raw.answer.tool_calls)}"
            )
            found.append(Violation("sdk.same-as-raw", text, shown_calls))
    return found


def _check_models(item: dict, expect: dict) -> list[Violation]:
    found: list[Violation] = []
    ids = item.get("model_ids") or []
    for wanted in expect.get("model_ids_include", []):
        if wanted not in ids:
            found.append(
                Violation("expect.models", f"model {wanted!r} is not listed", evidence(ids))
            )
    if len(ids) < expect.get("min_models", 0):
        found.append(
            Violation(
                "expect.models", f"{len(ids)} model(s), expected at least {expect['min_models']}"
            )
        )
    return found
