"""The emulator under real gunicorn with the gevent worker: streams arrive write by write."""

from __future__ import annotations

import json
import os
import socket
import struct
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
GUNICORN = Path(sys.executable).with_name("gunicorn")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def server():
    if not GUNICORN.exists():
        pytest.skip("gunicorn is not installed next to this Python")
    port = _free_port()
    process = subprocess.Popen(
        [
            str(GUNICORN),
            "-k",
            "gevent",
            "-w",
            "1",
            "-b",
            f"127.0.0.1:{port}",
            "kimiproxy.emulator:create_emulator_app()",
        ],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"gunicorn exited: {process.stderr.read().decode()[-2000:]}")
            try:
                if requests.get(f"{base}/_emulator/health", timeout=1).ok:
                    break
            except requests.ConnectionError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("gunicorn did not become ready in 30 s")
            time.sleep(0.1)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        process.stderr.close()


def _token(base: str) -> str:
    response = requests.get(
        f"{base}/api/auth/token/refresh",
        headers={"Authorization": "Bearer gunicorn-refresh"},
        timeout=5,
    )
    response.raise_for_status()
    return response.json()["access_token"]


def _queue_slow_chunks(base: str) -> None:
    response = requests.post(f"{base}/_emulator/faults", json={"fault": "slow_chunks"}, timeout=5)
    response.raise_for_status()


def _timed_chunks(response) -> list[tuple[float, bytes]]:
    """Each HTTP chunk as it arrives (chunk_size=None keeps transfer-encoding chunks apart)."""
    return [(time.monotonic(), chunk) for chunk in response.iter_content(chunk_size=None)]


def test_rest_stream_is_incremental(server):
    token = _token(server)
    headers = {"Authorization": f"Bearer {token}"}
    chat = requests.post(
        f"{server}/api/chat", json={"name": "x", "kimiplus_id": "kimi"}, headers=headers, timeout=5
    ).json()
    _queue_slow_chunks(server)
    started = time.monotonic()
    with requests.post(
        f"{server}/api/chat/{chat['id']}/completion/stream",
        json={"messages": [{"role": "user", "content": "hi"}]},
        headers=headers,
        stream=True,
        timeout=30,
    ) as response:
        assert response.status_code == 200
        assert response.headers["Content-Type"].startswith("text/event-stream")
        chunks = _timed_chunks(response)
    assert len(chunks) >= 5
    assert chunks[0][0] - started < 0.4  # the first event did not wait for the rest
    assert chunks[-1][0] - chunks[0][0] >= 0.45 * (len(chunks) - 1)
    text = b"".join(c for _, c in chunks).decode()
    events = [json.loads(line[6:]) for line in text.split("\n\n") if line.startswith("data: ")]
    assert events[0]["event"] == "req" and events[-1]["event"] == "all_done"


def _envelopes(data: bytes) -> list[tuple[int, dict]]:
    frames, offset = [], 0
    while offset < len(data):
        flag, length = struct.unpack(">BI", data[offset : offset + 5])
        frames.append((flag, json.loads(data[offset + 5 : offset + 5 + length])))
        offset += 5 + length
    return frames


def test_connect_stream_is_incremental_and_splits_utf8(server):
    token = _token(server)
    headers = {
        "Authorization": f"Bearer {token}",
        "Content-Type": "application/connect+json",
        "Connect-Protocol-Version": "1",
    }

    def chat(text: str):
        payload = json.dumps(
            {"message": {"role": "user", "blocks": [{"message_id": "", "text": {"content": text}}]}}
        ).encode()
        body = b"\x00" + struct.pack(">I", len(payload)) + payload
        return requests.post(
            f"{server}/apiv2/kimi.gateway.chat.v1.ChatService/Chat",
            data=body,
            headers=headers,
            stream=True,
            timeout=30,
        )

    with chat("[[reply:split-utf8]]") as response:
        assert response.headers["Content-Type"] == "application/connect+json"
        chunks = [c for _, c in _timed_chunks(response)]
    assert len(chunks) > 10
    undecodable = 0
    for chunk in chunks:
        try:
            chunk.decode("utf-8")
        except UnicodeDecodeError:
            undecodable += 1
    assert undecodable > 0
    frames = _envelopes(b"".join(chunks))
    assert frames[-1] == (2, {})
    text = "".join(
        f["block"]["text"]["content"] for _, f in frames if f.get("mask") == "block.text.content"
    )
    assert text == "中文字符和表情😀🎉测试"

    _queue_slow_chunks(server)
    started = time.monotonic()
    with chat("hi") as response:
        timed = _timed_chunks(response)
    assert timed[0][0] - started < 0.4
    assert timed[-1][0] - timed[0][0] >= 0.45 * (len(timed) - 1)
    assert _envelopes(b"".join(c for _, c in timed))[-1] == (2, {})


def _streams(base: str) -> list[dict]:
    return requests.get(f"{base}/_emulator/streams", timeout=5).json()["streams"]


def test_client_disconnect_releases_the_account_promptly(server):
    """A client that hangs up mid-answer frees its account: the next stream is accepted."""
    response = requests.get(
        f"{server}/api/auth/token/refresh",
        headers={"Authorization": "Bearer disconnect-refresh"},
        timeout=5,
    )
    headers = {"Authorization": f"Bearer {response.json()['access_token']}"}
    chat_id = requests.post(
        f"{server}/api/chat", json={"name": "x"}, headers=headers, timeout=5
    ).json()["id"]
    url = f"{server}/api/chat/{chat_id}/completion/stream"
    body = {"messages": [{"role": "user", "content": "a question with a longer answer"}]}
    _queue_slow_chunks(server)  # about 0.5 s per write: the whole answer would take seconds
    response = requests.post(url, json=body, headers=headers, stream=True, timeout=30)
    assert response.status_code == 200
    next(response.iter_content(chunk_size=None))
    assert [s["chat_id"] for s in _streams(server)] == [chat_id]
    refused = requests.post(url, json=body, headers=headers, timeout=5)
    assert refused.status_code == 400
    assert refused.json()["error_type"] == "chat.user_stream_pushing"
    hung_up = time.monotonic()
    response.close()
    while _streams(server) and time.monotonic() - hung_up < 5:
        time.sleep(0.05)
    assert _streams(server) == []
    assert time.monotonic() - hung_up < 2.5
    answer = requests.post(url, json=body, headers=headers, timeout=10)
    assert answer.status_code == 200 and '"all_done"' in answer.text


def test_overlapping_refreshes_conflict_under_gevent(server):
    """Two refreshes of one token at once in the one gevent worker: both wait out the delay side
    by side, one rotates the token, the other is the recorded conflict."""
    requests.post(f"{server}/_emulator/reset", timeout=5).raise_for_status()
    requests.post(
        f"{server}/_emulator/options", json={"refresh_delay": 0.5}, timeout=5
    ).raise_for_status()
    url = f"{server}/api/account.gateway.v1.AuthService/RefreshToken"
    try:
        with ThreadPoolExecutor(max_workers=2) as pool:
            started = time.monotonic()
            futures = [
                pool.submit(requests.post, url, json={"refresh_token": "race-refresh"}, timeout=10)
                for _ in range(2)
            ]
            statuses = sorted(future.result().status_code for future in futures)
            elapsed = time.monotonic() - started
        assert statuses == [200, 401]
        assert elapsed < 0.95  # the two delays overlapped instead of queueing
        listing = requests.get(f"{server}/_emulator/refreshes", timeout=5).json()
        assert listing["conflicts"] == 1
        assert sorted(r["outcome"] for r in listing["refreshes"]) == ["conflict", "rotated"]
    finally:
        requests.post(f"{server}/_emulator/reset", timeout=5).raise_for_status()
    options = requests.get(f"{server}/_emulator/options", timeout=5).json()["options"]
    assert options["refresh_delay"] == 0.0
