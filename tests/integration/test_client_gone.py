"""A client that leaves frees its Kimi account at once: the proxy stops reading the answer,
deletes the chat and releases the lease, for streamed and whole answers alike; a client that
stays connected but stops reading is cut off after the write timeout."""

from __future__ import annotations

import base64
import json
import socket
import time

import pytest
import requests

from kimiproxy.hosting.processes import free_port, start_emulator, start_proxy, stop
from tests.conftest import PROTOCOLS, TEST_TOKEN
from tests.helpers import wait_until

SLOW_PROMPT = "a long slow answer " * 20  # about 50 chunks, half a second apart


def _raw_request(url: str, body: dict, receive_buffer: int | None = None) -> socket.socket:
    host, port = url.removeprefix("http://").split(":")
    payload = json.dumps(body).encode()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if receive_buffer:  # set before connecting, so the kernel does not grow it
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
    sock.settimeout(10)
    sock.connect((host, int(port)))
    sock.sendall(
        b"POST /v1/chat/completions HTTP/1.1\r\n"
        + f"Host: {host}\r\nAuthorization: Bearer {TEST_TOKEN}\r\n".encode()
        + b"Content-Type: application/json\r\n"
        + f"Content-Length: {len(payload)}\r\n\r\n".encode()
        + payload
    )
    return sock


def _answer_started(emulator) -> bool:
    return bool(emulator.chats())


@pytest.mark.parametrize("stream", [False, True])
def test_a_client_that_leaves_frees_the_account_within_a_second(proxy, emulator, stream):
    emulator.fault("slow_chunks")
    sock = _raw_request(
        proxy.url,
        {"model": "kimi", "stream": stream, "messages": [{"role": "user", "content": SLOW_PROMPT}]},
    )
    assert wait_until(lambda: _answer_started(emulator), timeout=10)
    time.sleep(1.0)  # Kimi is half way through writing the answer
    sock.close()
    left = time.monotonic()
    assert wait_until(lambda: not emulator.undeleted_chats(), timeout=10)
    assert time.monotonic() - left < 2.5
    # The account is free again: the next answer on it does not queue behind the abandoned one.
    started = time.monotonic()
    answer = proxy.client().chat.completions.create(
        model="kimi", messages=[{"role": "user", "content": "are you free?"}]
    )
    assert answer.choices[0].message.content and time.monotonic() - started < 5


@pytest.fixture(scope="module")
def big_chunk_setup(secret_scan):
    """An emulator that writes large deltas, and a proxy with a short write timeout."""
    emulator_port = free_port()
    emulator_process = start_emulator(
        emulator_port, {"chunk_size": 65536}, log=secret_scan.log_file("emulator")
    )
    url = f"http://127.0.0.1:{emulator_port}"
    proxies = {}
    try:
        for protocol in PROTOCOLS:
            port = free_port()
            proxies[protocol] = (
                f"http://127.0.0.1:{port}",
                start_proxy(
                    port,
                    {
                        "KIMIPROXY_UPSTREAM": url,
                        "KIMIPROXY_PROTOCOL": protocol,
                        "KIMIPROXY_LOAD_ENTRYPOINT_PLUGINS": "false",
                        "KIMIPROXY_WRITE_TIMEOUT": "1",
                        "KIMIPROXY_LOG_LEVEL": "DEBUG",
                    },
                    log=secret_scan.log_file(f"proxy-{protocol}"),
                ),
            )
        yield url, {p: u for p, (u, _) in proxies.items()}
    finally:
        for _, process in proxies.values():
            stop(process)
        try:
            secret_scan.collect_from_emulator(url)
        finally:
            stop(emulator_process)


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_a_client_that_stops_reading_is_cut_off(big_chunk_setup, protocol):
    emulator_url, proxies = big_chunk_setup
    requests.post(f"{emulator_url}/_emulator/reset", timeout=5).raise_for_status()
    text = "x" * (12 * 1024 * 1024)  # more than the socket buffers between us hold
    said = base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")
    sock = _raw_request(
        proxies[protocol],
        {
            "model": "kimi",
            "stream": True,
            "messages": [{"role": "user", "content": f"[[say:{said}]]"}],
        },
    )
    try:
        sock.recv(1024)  # the answer began; now stop reading without closing

        def chats() -> list[dict]:
            return requests.get(f"{emulator_url}/_emulator/chats", timeout=5).json()["chats"]

        assert wait_until(lambda: chats() and all(c["deleted"] for c in chats()), timeout=30)
    finally:
        sock.close()
