"""``kimiproxy demo``: the README's first command works and shows a real answer."""

import subprocess
import sys

from kimiproxy.hosting.processes import free_port


def test_demo_runs_the_emulator_and_the_proxy_and_answers():
    port = free_port()
    result = subprocess.run(
        [sys.executable, "-m", "kimiproxy.cli", "demo", "--once", "--port", str(port)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "You said: Hello Kimi, what can you do?" in result.stdout
    assert "【检索 1】" in result.stdout
    assert f"curl -s http://127.0.0.1:{port}/v1/chat/completions" in result.stdout
    assert 'OpenAI(base_url="http://127.0.0.1:' in result.stdout
