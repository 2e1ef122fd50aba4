"""Builders shared by the upstream client tests: settings, tokens, SSE and Connect bodies, and a
response body that arrives in chosen network chunks."""

from __future__ import annotations

import base64
import gzip
import http.server
import io
import json
import os
import threading
import time
import zlib
from collections.abc import Iterator
from contextlib import contextmanager

from kimiproxy.settings import load_config
from kimiproxy.upstream.connect.framing import FLAG_END_STREAM, encode_envelope

BASE = "https://kimi.test"
REFRESH_URL = BASE + "/api/auth/token/refresh"
ROTATING_URL = BASE + "/api/account.gateway.v1.AuthService/RefreshToken"


def settings(protocol: str = "rest", **overrides: object) -> dict:
    """Settings for a client of ``BASE``, keeping its tokens in the test's own state directory
    (see ``tests/conftest.py``)."""
    config = {"PROTOCOL": protocol, "UPSTREAM": BASE, "DATA_DIR": os.environ["KIMIPROXY_DATA_DIR"]}
    return load_config({**config, **overrides}, environ={})


def _b64(data: dict) -> str:
    raw = json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def make_jwt(**claims: object) -> str:
    """A JWT shaped like Kimi's (not signed: clients never verify)."""
    payload = {
        "iss": "user-center",
        "typ": "access",
        "app_id": "kimi",
        "sub": "user-1",
        "exp": int(time.time()) + 30 * 86400,
        "iat": int(time.time()),
    }
    payload.update(claims)
    return f"{_b64({'alg': 'HS512', 'typ': 'JWT'})}.{_b64(payload)}.emulator"


def sse(*events: dict | str) -> bytes:
    """``data: <json>`` lines, each its own event; a ``str`` is sent verbatim as the data."""
    out = []
    for event in events:
        data = event if isinstance(event, str) else json.dumps(event, ensure_ascii=False)
        out.append(f"data: {data}\n\n")
    return "".join(out).encode("utf-8")


def frames(*messages: dict, end: dict | None = None) -> bytes:
    """Connect envelopes for ``messages``, then the end-of-stream envelope ``end`` (``{}`` for a
    clean end; ``None`` leaves it out, as a cut stream would)."""
    body = b"".join(encode_envelope(m) for m in messages)
    if end is not None:
        body += encode_envelope(end, FLAG_END_STREAM)
    return body


class _ChunkSource(io.RawIOBase):
    def __init__(self, chunks: list[bytes], delay: float = 0.0):
        self._chunks = list(chunks)
        self._delay = delay
        self.reads = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        if not self._chunks:
            return 0
        time.sleep(self._delay)
        chunk = self._chunks.pop(0)
        if len(chunk) > len(buffer):
            buffer[:] = chunk[: len(buffer)]
            self._chunks.insert(0, chunk[len(buffer) :])
            return len(buffer)
        buffer[: len(chunk)] = chunk
        self.reads += 1
        return len(chunk)


def chunked_body(chunks: list[bytes], delay: float = 0.0) -> io.BufferedReader:
    """A body ``responses`` hands over as-is, whose every read returns at most one chunk (after
    ``delay`` seconds), so the client sees the same cuts and pauses a network would make."""
    return io.BufferedReader(_ChunkSource(chunks, delay), buffer_size=1)


def split_every(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


ENCODERS = {"gzip": gzip.compress, "deflate": zlib.compress}


@contextmanager
def encoded_server(body: bytes, encoding: str, content_type: str) -> Iterator[str]:
    """A real HTTP server on loopback that answers every GET and POST with ``body`` compressed
    as ``encoding``; yields its base URL. (``responses`` decodes bodies itself, so only a real
    connection shows what a client does with a compressed stream.)"""
    payload = ENCODERS[encoding](body)

    class Handler(http.server.BaseHTTPRequestHandler):
        def _answer(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self.send_response(200)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Encoding", encoding)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = _answer

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
