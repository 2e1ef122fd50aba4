"""Judge one raw exchange: status, content type, framing, invariants and the OpenAPI schemas."""

from __future__ import annotations

from dataclasses import dataclass, field

from . import invariants, sse
from .answers import Answer, answer_from_completion, tool_calls_mismatch
from .raw_capture import NOT_JSON, Exchange
from .schema import SchemaSet
from .violations import Violation, evidence

MAX_SCHEMA_PROBLEMS = 3


@dataclass
class RawVerdict:
    """What the raw exchange showed: violations, the answer, an error message, model ids."""

    violations: list[Violation] = field(default_factory=list)
    answer: Answer | None = None
    error_message: str | None = None
    model_ids: list[str] | None = None
    status: int | None = None


def status_matches(expected: object, actual: int | None) -> bool:
    """``expected`` is an integer, ``"4xx"``/``"5xx"``, or ``None`` (no HTTP answer expected)."""
    if expected is None:
        return actual is None
    if actual is None:
        return False
    if expected == "4xx":
        return 400 <= actual < 500
    if expected == "5xx":
        return 500 <= actual < 600
    return actual == expected


def check_exchange(
    exchange: Exchange,
    *,
    operation: str,
    stream: bool,
    expect: dict,
    include_usage: bool = False,
    schemas: SchemaSet | None = None,
) -> RawVerdict:
    """All raw rules for one exchange, given the resolved expectation of its scenario and mode."""
    verdict = RawVerdict(status=exchange.status)
    if exchange.failure:
        verdict.violations.append(Violation("http.connection", exchange.failure))
        return verdict
    expected = expect.get("status", 200)
    if expected is None:
        return verdict
    if not status_matches(expected, exchange.status):
        message = f"HTTP status {exchange.status}, expected {expected}"
        verdict.violations.append(Violation("http.status", message, evidence(exchange.body)))
    if exchange.status == 200 and status_matches(expected, 200):
        if operation == "chat" and stream:
            _check_stream(exchange, expect, include_usage, schemas, verdict)
        else:
            _check_json_success(exchange, operation, schemas, verdict)
        _check_expected_tool_calls(expect, verdict)
    elif exchange.status != 200:
        _check_error_body(exchange, schemas, verdict)
    return verdict


def _check_expected_tool_calls(expect: dict, verdict: RawVerdict) -> None:
    """The scenario's ``tool_calls`` against the raw answer (the SDKs are checked on their own)."""
    if "tool_calls" not in expect or verdict.answer is None or verdict.answer.error is not None:
        return
    problem = tool_calls_mismatch(expect["tool_calls"], verdict.answer.tool_calls)
    if problem:
        verdict.violations.append(
            Violation("expect.tool-calls", problem, evidence(verdict.answer.tool_calls))
        )


def _check_stream(
    exchange: Exchange, expect: dict, include_usage: bool, schemas, verdict: RawVerdict
) -> None:
    found = verdict.violations
    if exchange.content_type != "text/event-stream":
        message = f"Content-Type is {exchange.content_type or 'missing'!r}, not 'text/event-stream'"
        found.append(Violation("stream.content-type", message, evidence(exchange.body)))
    decoded = sse.split_lines(exchange.body)
    for number in decoded.bad_utf8[:1]:
        found.append(
            Violation("stream.utf8", f"line {number} is not valid UTF-8", decoded.lines[number - 1])
        )
    checked = invariants.check_stream(
        decoded.lines,
        include_usage=include_usage,
        expect_error=bool(expect.get("mid_stream_error")),
    )
    found += checked.violations
    verdict.answer = checked.answer
    if checked.answer.error is not None:
        error = checked.answer.error.get("error")
        verdict.error_message = error.get("message") if isinstance(error, dict) else None
        if schemas:
            found += schemas.validate("ErrorResponse", checked.answer.error)
    if schemas:
        found += _chunk_schema_violations(checked.chunks, schemas)


def _chunk_schema_violations(chunks: list[dict], schemas: SchemaSet) -> list[Violation]:
    """Schema problems of the chunks, each distinct problem once (on the first chunk showing it)."""
    seen: dict[str, Violation] = {}
    for chunk in chunks:
        for problem in schemas.validate("CreateChatCompletionStreamResponse", chunk):
            seen.setdefault(problem.message, problem)
        if len(seen) >= MAX_SCHEMA_PROBLEMS:
            break
    return list(seen.values())[:MAX_SCHEMA_PROBLEMS]


def _parse_json(exchange: Exchange, verdict: RawVerdict) -> object:
    if exchange.content_type != "application/json":
        message = f"Content-Type is {exchange.content_type or 'missing'!r}, not 'application/json'"
        verdict.violations.append(Violation("http.content-type", message, evidence(exchange.body)))
    body = exchange.json()
    if body is NOT_JSON:
        verdict.violations.append(
            Violation("http.json", "the body is not JSON", evidence(exchange.body))
        )
    return body


def _check_json_success(exchange: Exchange, operation: str, schemas, verdict: RawVerdict) -> None:
    body = _parse_json(exchange, verdict)
    if body is NOT_JSON:
        return
    if operation == "chat":
        verdict.violations += invariants.check_completion(body)
        verdict.answer = answer_from_completion(body)
        name = "CreateChatCompletionResponse"
    elif operation == "models.list":
        verdict.violations += invariants.check_models_list(body)
        data = body.get("data") if isinstance(body, dict) else None
        verdict.model_ids = (
            [m.get("id") for m in data if isinstance(m, dict)] if isinstance(data, list) else []
        )
        name = "ListModelsResponse"
    else:
        verdict.violations += invariants.check_model(body)
        verdict.model_ids = [body.get("id")] if isinstance(body, dict) else []
        name = "Model"
    if schemas:
        verdict.violations += schemas.validate(name, body)


def _check_error_body(exchange: Exchange, schemas, verdict: RawVerdict) -> None:
    body = _parse_json(exchange, verdict)
    if body is NOT_JSON:
        return
    verdict.violations += invariants.check_error_object(body)
    if schemas:
        verdict.violations += schemas.validate("ErrorResponse", body)
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict) and isinstance(error.get("message"), str):
        verdict.error_message = error["message"]
