"""The protocol rules as pure functions: each broken rule is named, with its offending chunk."""

from __future__ import annotations

import copy
import json

import pytest
from kimiproxy_conformance import invariants, sse


def chunk(
    delta: dict, finish: str | None = None, *, cid: str = "c1", created: int = 1, **extra
) -> dict:
    return {
        "id": cid,
        "object": "chat.completion.chunk",
        "created": created,
        "model": "m",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        **extra,
    }


def good_chunks() -> list[dict]:
    return [
        chunk({"role": "assistant", "content": ""}),
        chunk({"content": "Hel"}),
        chunk({"content": "lo"}),
        chunk({}, "stop"),
    ]


def lines_of(chunks: list, *, done: bool = True) -> list[str]:
    lines: list[str] = []
    for item in chunks:
        lines += [f"data: {item if isinstance(item, str) else json.dumps(item)}", ""]
    if done:
        lines += ["data: [DONE]", ""]
    return lines


def rules(violations) -> set[str]:
    return {v.rule for v in violations}


def test_a_correct_stream_has_no_violation_and_joins_its_deltas():
    checked = invariants.check_stream(lines_of(good_chunks()))
    assert checked.violations == []
    assert checked.answer.content == "Hello"
    assert checked.answer.finish_reason == "stop"
    assert checked.answer.role == "assistant"


def test_missing_done_is_reported_with_the_last_line():
    checked = invariants.check_stream(lines_of(good_chunks(), done=False))
    [violation] = checked.violations
    assert violation.rule == "stream.done-terminates"
    assert "without `data: [DONE]`" in violation.message
    assert '"finish_reason": "stop"' in violation.evidence


def test_data_after_done_is_reported():
    lines = lines_of(good_chunks()) + lines_of([chunk({"content": "late"})], done=False)
    assert "stream.done-terminates" in rules(invariants.check_stream(lines).violations)


def test_event_lines_are_reported_once_with_their_count():
    lines = ["event: message", *lines_of(good_chunks())]
    [violation] = invariants.check_stream(lines).violations
    assert violation.rule == "stream.no-event-lines"
    assert violation.message.startswith("1 `event:` line")


@pytest.mark.parametrize(
    ("mutate", "rule"),
    [
        (lambda c: c[2]["choices"][0]["delta"].update(role="assistant"), "stream.role-only-first"),
        (lambda c: c[0]["choices"][0]["delta"].pop("role"), "stream.first-delta-role"),
        (lambda c: c[2]["choices"][0]["delta"].update(content=""), "stream.no-empty-content"),
        (lambda c: c[2]["choices"][0].update(finish_reason="stop"), "stream.finish-reason-count"),
        (lambda c: c[3]["choices"][0].update(finish_reason=None), "stream.finish-reason-count"),
        (lambda c: c[3]["choices"][0].update(finish_reason="done"), "stream.finish-reason-allowed"),
        (lambda c: c[2].update(id="c2"), "stream.single-id"),
        (lambda c: c[1].update(created=2), "stream.single-created"),
        (lambda c: c[1].update(object="chat.completion"), "stream.object"),
    ],
)
def test_each_chunk_rule_names_the_offending_chunk(mutate, rule):
    chunks = good_chunks()
    mutate(chunks)
    violations = invariants.check_stream(lines_of(chunks)).violations
    assert rule in rules(violations)
    offending = next(v for v in violations if v.rule == rule)
    assert offending.evidence and offending.evidence.startswith("{")


def test_finish_reason_must_be_in_the_last_choice_chunk():
    chunks = good_chunks()
    chunks[2]["choices"][0]["finish_reason"] = "stop"
    chunks[3]["choices"][0]["finish_reason"] = None
    assert rules(invariants.check_stream(lines_of(chunks)).violations) == {
        "stream.finish-reason-last"
    }


def test_the_first_content_delta_may_be_empty():
    chunks = good_chunks()
    assert chunks[0]["choices"][0]["delta"]["content"] == ""
    assert invariants.check_stream(lines_of(chunks)).violations == []


def usage_chunks() -> list[dict]:
    chunks = [dict(c, usage=None) for c in good_chunks()]
    chunks.append(
        dict(
            chunk({}),
            choices=[],
            usage={"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3},
        )
    )
    return chunks


def test_include_usage_wants_a_last_chunk_without_choices():
    assert invariants.check_stream(lines_of(usage_chunks()), include_usage=True).violations == []
    chunks = usage_chunks()[:-1]
    chunks[-1]["usage"] = {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3}
    [violation] = invariants.check_stream(lines_of(chunks), include_usage=True).violations
    assert violation.rule == "stream.usage-chunk"
    assert "must have `choices: []`, it has 1 choice" in violation.message


@pytest.mark.parametrize(
    ("mutate", "rule"),
    [
        (lambda c: c.pop(), "stream.usage-chunk"),
        (lambda c: c[-1]["usage"].pop("total_tokens"), "stream.usage-complete"),
        (lambda c: c[1].update(usage={"prompt_tokens": 1}), "stream.usage-only-last"),
    ],
)
def test_usage_rules(mutate, rule):
    chunks = usage_chunks()
    mutate(chunks)
    assert rule in rules(invariants.check_stream(lines_of(chunks), include_usage=True).violations)


def error_chunk(code: object = "upstream_error") -> dict:
    return {"error": {"message": "tired", "type": "upstream_error", "param": None, "code": code}}


def test_a_mid_stream_error_is_judged_as_an_error_object():
    lines = lines_of([*good_chunks()[:2], error_chunk()])
    checked = invariants.check_stream(lines, expect_error=True)
    assert checked.violations == []
    assert checked.answer.error == error_chunk()
    checked = invariants.check_stream(
        lines_of([*good_chunks()[:2], error_chunk(500)]), expect_error=True
    )
    [violation] = checked.violations
    assert violation.rule == "error.fields"
    assert (
        "in the mid-stream error chunk" in violation.message
        and "got integer 500" in violation.message
    )


def test_error_chunks_are_reported_when_not_expected_and_missing_when_expected():
    lines = lines_of([*good_chunks()[:2], error_chunk()])
    assert "stream.unexpected-error" in rules(invariants.check_stream(lines).violations)
    assert "stream.expected-error" in rules(
        invariants.check_stream(lines_of(good_chunks()), expect_error=True).violations
    )


def test_non_json_data_is_reported():
    assert "stream.data-json" in rules(
        invariants.check_stream(["data: {not json", "", "data: [DONE]"]).violations
    )


def completion(**changes) -> dict:
    body = {
        "id": "c",
        "object": "chat.completion",
        "created": 1,
        "model": "m",
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": "hi"}, "finish_reason": "stop"}
        ],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
    }
    body.update(changes)
    return body


def test_completion_rules():
    assert invariants.check_completion(completion()) == []
    broken = completion()
    broken["choices"][0]["finish_reason"] = None
    broken["choices"][0]["message"]["role"] = "user"
    assert rules(invariants.check_completion(broken)) == {
        "completion.finish-reason",
        "completion.role",
    }
    assert rules(invariants.check_completion(completion(object="list"))) == {"completion.object"}
    assert rules(invariants.check_completion(completion(created="now"))) == {"completion.fields"}
    assert rules(invariants.check_completion(completion(choices=[]))) == {"completion.choices"}


def test_error_object_rules():
    good = {
        "error": {"message": "bad", "type": "invalid_request_error", "param": None, "code": None}
    }
    assert invariants.check_error_object(good) == []
    assert rules(invariants.check_error_object({"detail": "bad"})) == {"error.envelope"}
    for field, value in (("code", 400), ("message", None), ("param", 1), ("type", None)):
        broken = copy.deepcopy(good)
        broken["error"][field] = value
        [violation] = invariants.check_error_object(broken)
        assert violation.rule == "error.fields" and f"`error.{field}`" in violation.message


def test_model_rules():
    model = {"id": "kimi", "object": "model", "created": 1, "owned_by": "moonshot"}
    assert invariants.check_models_list({"object": "list", "data": [model]}) == []
    assert rules(
        invariants.check_models_list({"object": "list", "data": [dict(model, created=None)]})
    ) == {"models.list"}
    assert rules(invariants.check_model(dict(model, object="thing"))) == {"models.model"}


def test_sse_parsing_follows_the_specification():
    decoded = sse.split_lines(b"data: a\r\ndata: b\r\n\r\n: comment\nevent: x\ndata: c\n\n")
    events = sse.parse_events(decoded.lines)
    assert [(e.data, e.event) for e in events] == [("a\nb", None), ("c", "x")]
    assert sse.event_lines(decoded.lines) == [(5, "event: x")]


def test_lines_that_are_not_utf8_are_flagged():
    decoded = sse.split_lines("data: é\n".encode() + b"data: \xe4\xb8\n")
    assert decoded.bad_utf8 == [2]


def tool_chunks() -> list[dict]:
    """A tool call streamed as OpenAI does: id, type and name first, then argument pieces."""
    return [
        chunk(
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "index": 0,
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": ""},
                    }
                ],
            }
        ),
        chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"city"'}}]}),
        chunk({"tool_calls": [{"index": 0, "function": {"arguments": ': "Paris"}'}}]}),
        chunk({}, "tool_calls"),
    ]


def test_a_streamed_tool_call_is_joined_from_its_fragments():
    checked = invariants.check_stream(lines_of(tool_chunks()))
    assert checked.violations == []
    assert checked.answer.finish_reason == "tool_calls"
    assert checked.answer.tool_calls == [
        {
            "id": "call_1",
            "type": "function",
            "name": "get_weather",
            "arguments": '{"city": "Paris"}',
        }
    ]


def fragment(chunks: list[dict], number: int) -> dict:
    return chunks[number]["choices"][0]["delta"]["tool_calls"][0]


@pytest.mark.parametrize(
    ("mutate", "rule", "words"),
    [
        (lambda c: fragment(c, 1).pop("index"), "stream.tool-call-index", "no integer `index`"),
        (lambda c: fragment(c, 1).update(index="0"), "stream.tool-call-index", "integer `index`"),
        (
            lambda c: c[1]["choices"][0]["delta"].update(tool_calls={"index": 0}),
            "stream.tool-call-index",
            "not an array",
        ),
        (lambda c: fragment(c, 0).pop("id"), "stream.tool-call-start", "lacks `id`"),
        (
            lambda c: fragment(c, 0).update(type="tool"),
            "stream.tool-call-start",
            'lacks `type: "function"`',
        ),
        (
            lambda c: fragment(c, 0)["function"].pop("name"),
            "stream.tool-call-start",
            "lacks `function.name`",
        ),
        (
            lambda c: fragment(c, 1).update(id="call_1"),
            "stream.tool-call-fragments",
            "repeats `id`",
        ),
        (
            lambda c: fragment(c, 2)["function"].update(name="get_weather"),
            "stream.tool-call-fragments",
            "repeats `function.name`",
        ),
        (
            lambda c: fragment(c, 1)["function"].update(arguments={"city": "Paris"}),
            "stream.tool-call-arguments",
            "is object, not a string",
        ),
        (
            lambda c: c.pop(2),
            "stream.tool-call-arguments",
            "do not parse as JSON",
        ),
        (
            lambda c: c[3]["choices"][0].update(finish_reason="stop"),
            "stream.finish-reason-tool-calls",
            'finishes with "stop", not "tool_calls"',
        ),
    ],
)
def test_each_tool_call_rule_names_the_offending_chunk(mutate, rule, words):
    chunks = tool_chunks()
    mutate(chunks)
    violations = [v for v in invariants.check_stream(lines_of(chunks)).violations if v.rule == rule]
    assert violations, rule
    assert words in violations[0].message
    assert violations[0].evidence


def test_a_tool_calls_finish_needs_a_tool_call():
    chunks = good_chunks()
    chunks[3]["choices"][0]["finish_reason"] = "tool_calls"
    [violation] = invariants.check_stream(lines_of(chunks)).violations
    assert violation.rule == "stream.finish-reason-tool-calls"
    assert "streamed no tool call" in violation.message


def test_a_stream_cut_by_an_error_is_not_judged_for_incomplete_arguments():
    chunks = tool_chunks()[:2]
    checked = invariants.check_stream(lines_of([*chunks, error_chunk()]), expect_error=True)
    assert checked.violations == []


def tool_completion(**call_changes) -> dict:
    call = {
        "id": "call_1",
        "type": "function",
        "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
    }
    call.update(call_changes)
    body = completion()
    body["choices"][0]["message"] = {"role": "assistant", "content": None, "tool_calls": [call]}
    body["choices"][0]["finish_reason"] = "tool_calls"
    return body


def test_completion_tool_call_rules():
    assert invariants.check_completion(tool_completion()) == []
    for changes, words in (
        ({"id": None}, "has `id` null"),
        ({"type": "custom"}, 'has `type` "custom", not "function"'),
        ({"function": {"arguments": "{}"}}, "has `function.name` null"),
        ({"function": {"name": "f", "arguments": {"a": 1}}}, "`function.arguments` object"),
        ({"function": {"name": "f", "arguments": "{"}}, "do not parse as JSON"),
    ):
        [violation] = invariants.check_completion(tool_completion(**changes))
        assert violation.rule == "completion.tool-calls" and words in violation.message, changes
    stopped = tool_completion()
    stopped["choices"][0]["finish_reason"] = "stop"
    assert rules(invariants.check_completion(stopped)) == {"completion.finish-reason-tool-calls"}
    no_call = completion()
    no_call["choices"][0]["finish_reason"] = "tool_calls"
    assert rules(invariants.check_completion(no_call)) == {"completion.finish-reason-tool-calls"}


def test_tool_calls_are_compared_by_name_and_parsed_arguments_not_by_id():
    from kimiproxy_conformance.answers import comparable_tool_calls, tool_calls_mismatch

    a = [{"id": "call_1", "name": "f", "arguments": '{"b": 2, "a": 1}'}]
    b = [{"id": "call_2", "name": "f", "arguments": '{"a":1,"b":2}'}]
    assert comparable_tool_calls(a) == comparable_tool_calls(b)
    assert tool_calls_mismatch([{"name": "f", "arguments": {"a": 1, "b": 2}}], a) is None
    assert tool_calls_mismatch([{"name": "f"}], a) is None
    assert "expected none" in tool_calls_mismatch([], a)
    assert 'expected f({"a": 2})' in tool_calls_mismatch([{"name": "f", "arguments": {"a": 2}}], a)
