"""The pytest plugin: one test per scenario x SDK x mode, and the fixture for plugin authors."""

from __future__ import annotations

import subprocess
import sys
import textwrap


def run_pytest(tmp_path, *args: str) -> subprocess.CompletedProcess:
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-p",
        "kimiproxy_conformance.pytest_plugin",
        "-p",
        "no:cacheprovider",
    ]
    return subprocess.run(
        [*command, *args, str(tmp_path)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_plugin_adds_one_test_per_row(reference_server, tmp_path):
    url = reference_server.base_url
    result = run_pytest(
        tmp_path,
        "--conformance-base-url",
        url,
        "--conformance-sdk",
        "python",
        "-k",
        "chat-basic",
        "-v",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "conformance::chat-basic[python-non-stream] PASSED" in result.stdout
    assert "conformance::chat-basic[python-stream] PASSED" in result.stdout


def test_a_broken_server_fails_the_row_with_the_rule(fake_server, tmp_path):
    url = fake_server("two-finish-reasons").base_url
    result = run_pytest(
        tmp_path, "--conformance-base-url", url, "--conformance-sdk", "python", "-k", "chat-basic"
    )
    assert result.returncode == 1
    assert "stream.finish-reason-count" in result.stdout
    assert "1 failed, 1 passed" in result.stdout


def test_without_a_base_url_the_plugin_adds_nothing_and_the_fixture_works(
    reference_server, tmp_path
):
    (tmp_path / "test_mine.py").write_text(
        textwrap.dedent(
            f"""
            def test_my_server_is_compatible(conformance):
                url = {reference_server.base_url!r}
                report = conformance(url, scenarios=["models-*"], sdks=["python"])
                report.assert_ok()
                assert len(report.rows) == 3
            """
        )
    )
    result = run_pytest(tmp_path, "-q")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout
