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
