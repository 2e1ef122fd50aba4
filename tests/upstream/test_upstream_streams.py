"""Reading streamed bodies: each network read is passed on as it arrives, with any
content-encoding undone, and an optional deadline bounds the whole read."""

from __future__ import annotations

import time

import pytest
import requests
import responses

from kimiproxy.errors import UpstreamTimeout
from kimiproxy.upstream.streams import ResponseChunks

from .helpers import BASE, chunked_body, encoded_server, sse

BODY = sse({"event": "cmpl", "text": "中文 answer"}, {"event": "all_done"})


@pytest.mark.parametrize("encoding", ["gzip", "deflate"])
def test_compressed_bodies_arrive_decoded(encoding):
    # requests asks for gzip/deflate by default, so Kimi (or a proxy before it) may compress.
    with encoded_server(BODY, encoding, "text/event-stream") as url:
        response = requests.get(url + "/stream", stream=True, timeout=5)
        assert b"".join(ResponseChunks(response, 5)) == BODY


@responses.activate
def test_each_network_read_is_passed_on_as_it_arrives():
    pieces = [BODY[:7], BODY[7:20], BODY[20:]]
    responses.get(BASE + "/stream", body=chunked_body(pieces))
    response = requests.get(BASE + "/stream", stream=True)
    assert list(ResponseChunks(response)) == pieces


@responses.activate
def test_deadline_stops_a_body_that_keeps_trickling():
    responses.get(BASE + "/stream", body=chunked_body([b": keepalive\n\n"] * 40, delay=0.05))
    response = requests.get(BASE + "/stream", stream=True)
    started = time.monotonic()
    with pytest.raises(UpstreamTimeout):
        for _ in ResponseChunks(response, deadline=time.monotonic() + 0.3):
            pass
    assert time.monotonic() - started < 1.0
