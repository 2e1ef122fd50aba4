"""The command line: options, exit status, reports, and the Node rows' skip rule."""

from __future__ import annotations

import json
import os

import pytest
from kimiproxy_conformance import cli, config
from kimiproxy_conformance.node_runner import install_command


def test_list_shows_the_selection_and_why_others_are_left_out(capsys):
    assert cli.main(["--base-url", "http://127.0.0.1:9/v1", "--list"]) == 0
    out = capsys.readouterr().out
    assert "chat-basic" in out
    assert "chat-canned-deterministic" in out and "needs capability kimi-emulator" in out


def test_no_selected_scenario_is_a_usage_error(capsys):
    assert cli.main(["--base-url", "http://127.0.0.1:9/v1", "-k", "no-such-scenario"]) == 2
    assert "no scenario selected" in capsys.readouterr().err


def test_an_unknown_sdk_is_a_usage_error(capsys):
    assert cli.main(["--base-url", "http://127.0.0.1:9/v1", "--sdk", "ruby"]) == 2


def test_an_unreachable_server_fails_with_the_connection_rule(tmp_path, capsys):
    report = tmp_path / "r.json"
    args = [
        "--base-url",
        "http://127.0.0.1:9/v1",
        "-k",
        "models-list",
        "--sdk",
        "python",
        "--json",
        str(report),
    ]
    assert cli.main(args) == 1
    [row] = json.loads(report.read_text())["results"]
    assert {v["rule"] for v in row["violations"]} == {"http.connection", "sdk.call-failed"}


def test_the_api_key_defaults_to_the_environment_then_the_placeholder(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    assert config.default_api_key() == config.PLACEHOLDER_API_KEY
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-env")
    assert config.default_api_key() == "sk-from-env"


def test_the_api_key_option_reaches_the_server(reference_server, capsys):
    args = ["--base-url", reference_server.base_url, "-k", "error-auth-*", "--sdk", "python"]
    assert cli.main([*args, "--api-key", "good-key"]) == 0
    # a key the server refuses makes every authenticated scenario fail
    assert (
        cli.main(
            ["--base-url", reference_server.base_url, "-k", "chat-basic", "--api-key", "invalid-x"]
        )
        == 1
    )


def test_quiet_output_prints_only_problems_and_the_summary(reference_server, capsys):
    assert (
        cli.main(
            ["--base-url", reference_server.base_url, "-k", "models-*", "--sdk", "python", "-q"]
        )
        == 0
    )
    out = capsys.readouterr().out.strip().splitlines()
    assert out == ["3 passed, 0 failed, 0 skipped"]


def test_without_node_the_node_rows_are_skipped_never_passed(reference_server, tmp_path, capsys):
    report = tmp_path / "r.json"
    args = ["--base-url", reference_server.base_url, "-k", "chat-basic", "--json", str(report)]
    assert cli.main([*args, "--node", str(tmp_path / "no-node")]) == 0
    rows = json.loads(report.read_text())["results"]
    node_rows = [r for r in rows if r["sdk"] == "node"]
    assert node_rows and all(r["status"] == "skipped" for r in node_rows)
    assert "Node.js is absent" in node_rows[0]["skip_reason"]
    assert "Node.js is absent" in capsys.readouterr().out
    assert cli.main([*args, "--node", str(tmp_path / "no-node"), "--fail-on-skip"]) == 1


def test_without_the_npm_package_the_skip_says_how_to_install_it(
    reference_server, tmp_path, node_ready
):
    if not node_ready:
        pytest.skip("needs Node.js")
    report = tmp_path / "r.json"
    args = [
        "--base-url",
        reference_server.base_url,
        "-k",
        "chat-basic",
        "--sdk",
        "node",
        "--json",
        str(report),
    ]
    assert cli.main([*args, "--node-modules", str(tmp_path)]) == 0
    rows = json.loads(report.read_text())["results"]
    assert all(r["status"] == "skipped" for r in rows)
    assert "cannot load the openai npm package" in rows[0]["skip_reason"]
    assert f"npm install --prefix {tmp_path}" in rows[0]["skip_reason"]


def test_the_install_command_uses_the_lock_file():
    assert install_command().startswith("npm ci --prefix ")
    assert install_command().endswith(f"{os.sep}node --no-audit --no-fund")


def test_the_schema_checks_can_be_turned_off(reference_server, tmp_path, capsys):
    report = tmp_path / "r.json"
    args = [
        "--base-url",
        reference_server.base_url,
        "-k",
        "models-list",
        "--sdk",
        "python",
        "--json",
        str(report),
    ]
    assert cli.main([*args, "--no-schema"]) == 0
    assert "schema checks are off" in json.loads(report.read_text())["notes"][0]
