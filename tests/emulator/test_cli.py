"""``python -m kimiproxy.emulator --option KEY=VALUE`` and ``serve(host, port, options)``."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest
import requests

from kimiproxy.emulator.server import serve


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _run(*args: str, timeout: float = 30) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "kimiproxy.emulator", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_unknown_option_is_a_clear_command_line_error():
    result = _run("--port", str(_free_port()), "--option", "reserch_total=3")
    assert result.returncode == 2
    assert "unknown emulator option 'reserch_total'" in result.stderr
    assert "research_total" in result.stderr.split("known:")[1]


def test_serve_checks_options_before_starting():
    with pytest.raises(ValueError, match="unknown emulator options"):
        serve("127.0.0.1", _free_port(), {"nope": 1})
    with pytest.raises(ValueError, match="true or false"):
        serve("127.0.0.1", _free_port(), {"one_stream_per_account": "no"})


def test_options_reach_the_running_emulator():
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "kimiproxy.emulator",
            "--port",
            str(port),
            "--option",
            "one_stream_per_account=false",
            "--option",
            "research_total=3",
            "--option",
            "slow_chunk_delay=0.3",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, "the emulator exited"
            try:
                if requests.get(f"{base}/_emulator/health", timeout=1).ok:
                    break
            except requests.ConnectionError:
                pass
            assert time.monotonic() < deadline, "the emulator did not start"
            time.sleep(0.1)
        refresh = requests.get(
            f"{base}/api/auth/token/refresh", headers={"Authorization": "Bearer cli"}, timeout=5
        )
        headers = {"Authorization": f"Bearer {refresh.json()['access_token']}"}
        usage = requests.get(f"{base}/api/chat/research/usage", headers=headers, timeout=5)
        assert usage.json() == {"remain": 3, "total": 3, "used": 0}
        chat_id = requests.post(f"{base}/api/chat", json={}, headers=headers, timeout=5).json()[
            "id"
        ]
        url = f"{base}/api/chat/{chat_id}/completion/stream"
        body = {"messages": [{"role": "user", "content": "hi"}]}
        requests.post(f"{base}/_emulator/faults", json={"fault": "slow_chunks"}, timeout=5)
        with requests.post(url, json=body, headers=headers, stream=True, timeout=30) as slow:
            chunks = slow.iter_content(chunk_size=None)
            next(chunks)
            first_at = time.monotonic()
            # one_stream_per_account=false: a second stream of the account is accepted
            second = requests.post(url, json=body, headers=headers, timeout=10)
            assert second.status_code == 200 and '"all_done"' in second.text
            rest = list(chunks)
        # slow_chunk_delay=0.3 between writes
        assert len(rest) >= 3 and time.monotonic() - first_at >= 0.25 * len(rest)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
