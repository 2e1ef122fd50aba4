"""Connect envelopes: 1 flag byte, a 4-byte big-endian length, then that many bytes of JSON."""

from __future__ import annotations

import json
import struct

from kimiproxy.emulator.bodies import BodyError, parse_json_object

FLAG_DATA = 0x00
FLAG_COMPRESSED = 0x01
FLAG_END_STREAM = 0x02
_HEADER = struct.Struct(">BI")


class FramingError(ValueError):
    """A request body that is not one well-formed, uncompressed JSON envelope."""


def encode_envelope(payload: dict | bytes, flag: int = FLAG_DATA) -> bytes:
    """One envelope around ``payload`` (a dict is written as compact UTF-8 JSON)."""
    if isinstance(payload, dict):
        payload = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
    return _HEADER.pack(flag, len(payload)) + payload


def decode_envelopes(data: bytes) -> list[tuple[int, bytes]]:
    """Every ``(flag, payload)`` in ``data``; :class:`FramingError` if it does not add up."""
    envelopes = []
    offset = 0
    while offset < len(data):
        if len(data) - offset < _HEADER.size:
            raise FramingError("truncated envelope header")
        flag, length = _HEADER.unpack_from(data, offset)
        offset += _HEADER.size
        if len(data) - offset < length:
            raise FramingError("envelope length runs past the body")
        envelopes.append((flag, data[offset : offset + length]))
        offset += length
    return envelopes


def decode_request(data: bytes) -> dict:
    """The JSON object in a unary-in streaming request: exactly one uncompressed data envelope."""
    envelopes = decode_envelopes(data)
    if len(envelopes) != 1:
        raise FramingError(f"expected one envelope, got {len(envelopes)}")
    flag, payload = envelopes[0]
    if flag & FLAG_COMPRESSED:
        raise FramingError("compressed envelopes are not supported")
    if flag != FLAG_DATA:
        raise FramingError(f"unexpected envelope flag {flag:#04x}")
    try:
        return parse_json_object(payload.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise FramingError(f"envelope is not UTF-8: {exc}") from None
    except BodyError as exc:
        raise FramingError(f"envelope: {exc}") from None
