"""Connect envelopes: encoding, incremental decoding at every possible cut, malformed input."""

from __future__ import annotations

import random
import struct

import pytest

from kimiproxy.upstream.connect.framing import (
    FLAG_END_STREAM,
    EnvelopeDecoder,
    FramingError,
    encode_envelope,
    read_envelopes,
)

MESSAGES = [
    {"op": "set", "chat": {"id": "d3rglnb12h610c3cc300"}},
    {"op": "append", "block": {"id": "2_0", "text": {"content": "中文😀 answer"}}},
    {"heartbeat": {}},
    {},
]


def stream_bytes() -> bytes:
    return b"".join(encode_envelope(m) for m in MESSAGES) + encode_envelope({}, FLAG_END_STREAM)


EXPECTED = [(0, m) for m in MESSAGES] + [(FLAG_END_STREAM, {})]


def decode(chunks: list[bytes]) -> list[tuple[int, dict]]:
    decoder = EnvelopeDecoder()
    out = []
    for chunk in chunks:
        out.extend(decoder.feed(chunk))
    decoder.finish()
    return out


def test_envelope_layout():
    envelope = encode_envelope({"a": "é"})
    payload = '{"a":"é"}'.encode()
    assert envelope[0] == 0
    assert struct.unpack(">I", envelope[1:5])[0] == len(payload)
    assert envelope[5:] == payload
    assert encode_envelope({}, FLAG_END_STREAM)[0] == FLAG_END_STREAM


def test_whole_body_in_one_chunk():
    assert decode([stream_bytes()]) == EXPECTED


def test_every_single_split_point():
    data = stream_bytes()
    for cut in range(len(data) + 1):
        assert decode([data[:cut], data[cut:]]) == EXPECTED, cut


def test_every_pair_of_split_points_in_the_first_frames():
    data = stream_bytes()
    for first in range(0, 40):
        for second in range(first, 60):
            chunks = [data[:first], data[first:second], data[second:]]
            assert decode(chunks) == EXPECTED, (first, second)


def test_byte_at_a_time():
    data = stream_bytes()
    assert decode([data[i : i + 1] for i in range(len(data))]) == EXPECTED


def test_random_chunkings():
    data = stream_bytes()
    rng = random.Random(1234)
    for _ in range(300):
        cuts = sorted(rng.sample(range(1, len(data)), rng.randint(1, 12)))
        chunks = [data[a:b] for a, b in zip([0, *cuts], [*cuts, len(data)], strict=True)]
        assert decode(chunks) == EXPECTED


def test_frames_before_a_bad_one_still_come_out():
    decoder = EnvelopeDecoder()
    good = encode_envelope({"n": 1})
    bad = b"\x00" + struct.pack(">I", 3) + b"{no"
    frames = decoder.feed(good + bad)
    assert next(frames) == (0, {"n": 1})
    with pytest.raises(FramingError, match="not valid JSON"):
        next(frames)


@pytest.mark.parametrize(
    "data,match",
    [
        (b"\x00" + struct.pack(">I", 5) + b"[1,2]", "not a JSON object"),
        (b"\x00" + struct.pack(">I", 2) + b"\xff\xfe", "not valid JSON"),
        (b"\x01" + struct.pack(">I", 2) + b"{}", "compressed"),
        (b"\x80" + struct.pack(">I", 2) + b"{}", "unknown flags"),
        (b"\x00" + struct.pack(">I", 2**31), "announcing"),
    ],
)
def test_malformed_envelopes_raise(data, match):
    with pytest.raises(FramingError, match=match):
        list(EnvelopeDecoder().feed(data))


def test_truncated_stream_is_reported_by_finish():
    decoder = EnvelopeDecoder()
    envelope = encode_envelope({"long": "x" * 50})
    assert list(decoder.feed(envelope[:-10])) == []
    assert decoder.pending == len(envelope) - 10
    with pytest.raises(FramingError, match="ended inside a frame"):
        decoder.finish()
    short = EnvelopeDecoder()
    list(short.feed(b"\x00\x00"))
    with pytest.raises(FramingError, match="header"):
        short.finish()


def test_read_envelopes_checks_the_end_of_the_body():
    data = stream_bytes()
    assert list(read_envelopes([data[:5], data[5:]])) == EXPECTED
    with pytest.raises(FramingError, match="ended inside a frame"):
        list(read_envelopes([data[:-3]]))
    # A reader that stops at the end-of-stream envelope never asks about what follows it.
    envelopes = read_envelopes([data + b"\x00\x00"])
    assert [next(envelopes) for _ in EXPECTED] == EXPECTED
