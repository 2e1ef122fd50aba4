"""Connect streaming envelopes: 1 flag byte, a 4-byte big-endian length, then that many bytes of
UTF-8 JSON. Flag ``0x02`` marks the end-of-stream envelope (trailers, or the error). See
``docs/kimi-protocol.md``, "Connect envelopes".

The decoder is incremental because the network cuts the body anywhere: an envelope may span many
chunks and one chunk may hold many envelopes.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Iterable, Iterator

FLAG_COMPRESSED = 0x01
FLAG_END_STREAM = 0x02
HEADER = struct.Struct(">BI")
# A frame this large is a corrupt length field, not a message.
MAX_FRAME = 16 * 1024 * 1024


class FramingError(ValueError):
    """Kimi sent bytes that are not a valid Connect envelope."""


def encode_envelope(message: object, flags: int = 0) -> bytes:
    """One envelope around ``message`` serialized as compact UTF-8 JSON."""
    payload = json.dumps(message, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return HEADER.pack(flags, len(payload)) + payload


class EnvelopeDecoder:
    """Feed byte chunks of any size; get ``(flags, message)`` for each complete envelope."""

    def __init__(self, max_frame: int = MAX_FRAME):
        self._buffer = bytearray()
        self._max_frame = max_frame

    def feed(self, chunk: bytes) -> Iterator[tuple[int, dict]]:
        """Every envelope completed by ``chunk`` (none if it only extends a partial one).

        The chunk is buffered at once; envelopes are decoded as the result is iterated, so those
        before a malformed one still come out before :class:`FramingError` is raised."""
        self._buffer += chunk
        return self._frames()

    def _frames(self) -> Iterator[tuple[int, dict]]:
        offset = 0
        try:
            while len(self._buffer) - offset >= HEADER.size:
                flags, length = HEADER.unpack_from(self._buffer, offset)
                if flags & ~(FLAG_COMPRESSED | FLAG_END_STREAM):
                    raise FramingError(f"Kimi sent a frame with unknown flags 0x{flags:02x}")
                if flags & FLAG_COMPRESSED:
                    raise FramingError("Kimi sent a compressed frame, which we did not ask for")
                if length > self._max_frame:
                    raise FramingError(f"Kimi sent a frame announcing {length} bytes")
                end = offset + HEADER.size + length
                if len(self._buffer) < end:
                    break
                payload = bytes(self._buffer[offset + HEADER.size : end])
                offset = end
                yield flags, _decode(payload)
        finally:
            # Drop what was consumed once per chunk, not once per frame, to stay linear.
            del self._buffer[:offset]

    def finish(self) -> None:
        """Call at end of body: leftover bytes mean the last envelope was cut short."""
        if not self._buffer:
            return
        if len(self._buffer) < HEADER.size:
            raise FramingError(
                f"Kimi's stream ended inside a frame header ({len(self._buffer)} bytes left over)"
            )
        _, length = HEADER.unpack_from(self._buffer, 0)
        have = len(self._buffer) - HEADER.size
        raise FramingError(f"Kimi's stream ended inside a frame ({have} of {length} bytes)")

    @property
    def pending(self) -> int:
        """Bytes buffered towards an incomplete envelope."""
        return len(self._buffer)


def read_envelopes(chunks: Iterable[bytes]) -> Iterator[tuple[int, dict]]:
    """Every ``(flags, message)`` in a body read as ``chunks``; :class:`FramingError` if the body
    is malformed or ends inside an envelope. A caller that stops early skips that last check."""
    decoder = EnvelopeDecoder()
    for chunk in chunks:
        yield from decoder.feed(chunk)
    decoder.finish()


def _decode(payload: bytes) -> dict:
    try:
        message = json.loads(payload.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise FramingError("Kimi sent a frame that is not valid JSON") from None
    if not isinstance(message, dict):
        raise FramingError("Kimi sent a frame that is not a JSON object")
    return message
