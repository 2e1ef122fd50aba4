"""The suite catches broken servers: each defect is reported with its rule and a precise message."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest
from kimiproxy_conformance import cli

# defect -> (scenario that shows it, rule, words the message must contain)
DEFECTS = {
    "no-done": ("chat-basic", "stream.done-terminates", "without `data: [DONE]`"),
    "role-every-chunk": ("chat-basic", "stream.role-only-first", "repeats `role`"),
    "two-finish-reasons": (
        "chat-basic",
        "stream.finish-reason-count",
        "2 chunks of choice 0 carry a finish_reason",
    ),
    "changing-ids": ("chat-basic", "stream.single-id", 'has `id` "chatcmpl-fake-1"'),
    "error-code-int": (
        "error-bad-json",
        "error.fields",
        "`error.code` must be a string or null, got integer 400",
    ),
    "usage-with-choices": (
        "chat-stream-usage",
        "stream.usage-chunk",
        "must have `choices: []`, it has 1 choice",
    ),
    "event-lines": ("chat-basic", "stream.no-event-lines", "`event:` line"),
    "empty-deltas": ("chat-basic", "stream.no-empty-content", "empty-string content"),
    "no-logprobs": (
        "chat-basic",
        "schema.CreateChatCompletionResponse",
        "'logprobs' is a required property",
    ),
    "plain-text-errors": ("error-bad-json", "http.content-type", "not 'application/json'"),
    "unknown-model-400": (
        "models-retrieve-unknown",
        "sdk.error-class",
        "expected NotFoundError, the SDK raised BadRequestError",
    ),
    "string-created": ("chat-basic", "sdk.strict-validation", "APIResponseValidationError"),
    "tools-not-checked": ("error-bad-tools", "http.status", "HTTP status 200, expected 400"),
}
# the same, for defects only the emulator scenarios show
EMULATOR_DEFECTS = {
    "no-retry-header": ("client-retry", "sdk.attempts", "the SDK sent 1 request(s), expected 2"),
    "stream-drops-text": (
        "chat-basic",
        "stream.joined-equals-non-stream",
        "joined content deltas differ",
    ),
}

# tool-call defects (shown by chat-tool-call, an emulator scenario): mode -> (rule, words)
TOOL_DEFECTS = {
    "tool-call-no-index": {
        "stream": ("stream.tool-call-index", "has no integer `index`"),
    },
    "tool-call-no-id": {
        "stream": ("stream.tool-call-start", "the first fragment of tool call 0 lacks `id`"),
        "non-stream": ("completion.tool-calls", "`message.tool_calls[0]` has `id` null"),
    },
    "tool-call-object-arguments": {
        "stream": (
            "stream.tool-call-arguments",
            "a `function.arguments` fragment of tool call 0 is object, not a string",
        ),
        "non-stream": (
            "completion.tool-calls",
            "`message.tool_calls[0]` has `function.arguments` object, not a string",
        ),
    },
    "tool-call-bad-json": {
        "stream": (
            "stream.tool-call-arguments",
            "the joined `function.arguments` of tool call 0 (choice 0) do not parse as JSON",
        ),
        "non-stream": ("completion.tool-calls", "`function.arguments` that do not parse as JSON"),
    },
    "tool-call-repeats-id": {
        "stream": (
            "stream.tool-call-fragments",
            "a later fragment of tool call 0 repeats `id` and `function.name`",
        ),
    },
    "tool-call-finish-stop": {
        "stream": (
            "stream.finish-reason-tool-calls",
            'choice 0 streamed tool calls but finishes with "stop", not "tool_calls"',
        ),
        "non-stream": (
            "completion.finish-reason-tool-calls",
            'the message has tool calls but finish_reason is "stop", not "tool_calls"',
        ),
    },
    "stream-tool-args-differ": {
        "stream": (
            "stream.joined-equals-non-stream",
            "the joined tool_calls deltas differ from the non-streamed answer",
        ),
    },
}


def run_cli(tmp_path, base_url: str, *args: str) -> tuple[int, dict]:
    report = tmp_path / "report.json"
    status = cli.main(["--base-url", base_url, "--json", str(report), *args])
    return status, json.loads(report.read_text(encoding="utf-8"))


def test_the_reference_server_passes_the_whole_suite(
    reference_server, node_ready, tmp_path, capsys
):
    junit = tmp_path / "junit.xml"
    status, report = run_cli(
        tmp_path, reference_server.base_url, "--emulator", "--junit", str(junit)
    )
    out = capsys.readouterr().out
    assert status == 0, out
    assert report["summary"]["failed"] == 0
    assert out.rstrip().endswith(
        f"{report['summary']['passed']} passed, 0 failed, {report['summary']['skipped']} skipped"
    )
    rows = report["results"]
    assert {r["sdk"] for r in rows} == {"python", "node"}
    if node_ready:
        assert report["summary"]["skipped"] == 0
    suite = ET.parse(junit).getroot().find("testsuite")
    assert int(suite.get("tests")) == len(rows) and suite.get("failures") == "0"
    assert report["duration"] < 60


@pytest.mark.parametrize("defect", sorted(DEFECTS) + sorted(EMULATOR_DEFECTS))
def test_each_broken_server_is_reported_with_the_rule(defect, fake_server, tmp_path, capsys):
    scenario, rule, words = {**DEFECTS, **EMULATOR_DEFECTS}[defect]
    server = fake_server(defect)
    extra = ["--emulator"] if defect in EMULATOR_DEFECTS else []
    status, report = run_cli(tmp_path, server.base_url, "-k", scenario, "--sdk", "python", *extra)
    out = capsys.readouterr().out
    assert status == 1, out
    failed = [r for r in report["results"] if r["status"] == "failed"]
    assert failed, out
    found = [v for r in failed for v in r["violations"] if v["rule"] == rule]
    assert found, out
    assert any(words in v["message"] for v in found), found
    assert all(v["evidence"] for v in found if v["source"] == "raw")
    assert rule in out and words in out


def test_a_mid_stream_error_with_a_numeric_code_is_reported(fake_server, tmp_path, capsys):
    server = fake_server("error-code-int")
    status, report = run_cli(
        tmp_path, server.base_url, "--emulator", "-k", "error-mid-stream", "--sdk", "python"
    )
    assert status == 1
    stream_row = next(r for r in report["results"] if r["stream"])
    messages = [v["message"] for v in stream_row["violations"] if v["rule"] == "error.fields"]
    assert messages == [
        "in the mid-stream error chunk: `error.code` must be a string or null, got integer 500"
    ]


def test_both_sdks_report_the_defect(fake_server, node_ready, tmp_path, capsys):
    status, report = run_cli(
        tmp_path, fake_server("no-done").base_url, "-k", "chat-basic", "--mode", "stream"
    )
    assert status == 1
    by_sdk = {r["sdk"]: r for r in report["results"]}
    assert by_sdk["python"]["status"] == "failed"
    assert by_sdk["node"]["status"] == ("failed" if node_ready else "skipped")


@pytest.mark.parametrize("defect", sorted(TOOL_DEFECTS))
def test_each_tool_call_defect_is_reported_with_the_rule(defect, fake_server, tmp_path, capsys):
    server = fake_server(defect)
    status, report = run_cli(
        tmp_path, server.base_url, "--emulator", "-k", "chat-tool-call", "--sdk", "python"
    )
    out = capsys.readouterr().out
    assert status == 1, out
    rows = {"stream" if r["stream"] else "non-stream": r for r in report["results"]}
    for mode, row in rows.items():
        if mode not in TOOL_DEFECTS[defect]:
            assert row["status"] == "passed", (mode, row["violations"])
            continue
        rule, words = TOOL_DEFECTS[defect][mode]
        found = [v for v in row["violations"] if v["rule"] == rule and v["source"] == "raw"]
        assert found, (mode, row["violations"])
        assert any(words in v["message"] for v in found), found
        assert all(v["evidence"] for v in found)


def test_both_sdks_join_tool_calls_from_the_deltas(fake_server, node_ready, tmp_path, capsys):
    """Arguments other than expected show up, as each SDK joined them, in `expect.tool-calls`."""
    status, report = run_cli(
        tmp_path,
        fake_server("stream-tool-args-differ").base_url,
        "--emulator",
        "-k",
        "chat-tool-call",
        "--mode",
        "stream",
    )
    assert status == 1
    sdks = ["python", "node"] if node_ready else ["python"]
    for row in report["results"]:
        if row["sdk"] not in sdks:
            continue
        messages = [
            v["message"]
            for v in row["violations"]
            if v["rule"] == "expect.tool-calls" and v["source"] == row["sdk"]
        ]
        assert messages == [
            'the tool calls are get_weather({"city": "Lyon"}), '
            'expected get_weather({"city": "Paris"})'
        ], row["violations"]
