"""Decoding ``data:`` URLs (RFC 2397) into a temporary file.

Accepted: ``data:[<mime>][;name=<file name>][;<param>=<value>…][;base64],<data>``. The ``name``
(or ``filename``) parameter, percent-decoded, names the file. Base64 is decoded strictly (only the
base64 alphabet; whitespace between characters and missing ``=`` padding are tolerated), in chunks
into a spooled temporary file; the decoded size is known from the text's length, so a data URL
over the size cap is refused before anything is decoded. Without ``;base64`` the data is
percent-decoded.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from typing import IO
from urllib.parse import unquote, unquote_to_bytes

from kimiproxy.inputs.errors import bad_input, too_large
from kimiproxy.inputs.spool import new_spool

CHUNK_CHARS = 64 * 1024  # a multiple of 4: every chunk but the last decodes on its own
_MIME = re.compile(r"[\w.+-]+/[\w.+-]+")
_WHITESPACE = re.compile(r"[ \t\r\n\f\v]+")


@dataclass
class DecodedData:
    """A decoded data URL: its bytes (in ``body``, positioned at the start) and what it says
    about itself."""

    body: IO[bytes]
    size: int
    mime_type: str | None
    name: str | None


def parse_header(header: str) -> tuple[str | None, str | None, bool]:
    """``application/pdf;name=a%20b.pdf;base64`` → (``application/pdf``, ``a b.pdf``, True)."""
    pieces = header.split(";")
    mime = pieces[0].strip().lower() or None
    if mime is not None and not _MIME.fullmatch(mime):
        mime = None
    name = None
    is_base64 = False
    for piece in pieces[1:]:
        key, sep, value = piece.strip().partition("=")
        key = key.strip().lower()
        if not sep and key == "base64":
            is_base64 = True
        elif key in ("name", "filename") and value.strip():
            name = unquote(value.strip().strip('"'))
    return mime, name, is_base64


def decode_data_url(url: str, max_bytes: int) -> DecodedData:
    """Decode ``url`` into a temporary file of at most ``max_bytes`` bytes.

    Raises :class:`kimiproxy.errors.InvalidRequest` (invalid data URL or base64) or
    :class:`kimiproxy.errors.PayloadTooLarge`."""
    if url[:5].lower() != "data:":
        raise bad_input("not a data URL", "invalid_data_url")
    comma = url.find(",", 5)
    if comma < 0:
        raise bad_input("the data URL has no ',' before its data", "invalid_data_url")
    mime, name, is_base64 = parse_header(url[5:comma])
    if is_base64:
        body, size = _decode_base64(url, comma + 1, max_bytes)
    else:
        body, size = _decode_percent(url[comma + 1 :], max_bytes)
    return DecodedData(body=body, size=size, mime_type=mime, name=name)


def _decode_percent(text: str, max_bytes: int) -> tuple[IO[bytes], int]:
    data = unquote_to_bytes(text)
    if len(data) > max_bytes:
        raise too_large("the data URL", max_bytes)
    body = new_spool()
    body.write(data)
    body.seek(0)
    return body, len(data)


def _decode_base64(url: str, start: int, max_bytes: int) -> tuple[IO[bytes], int]:
    text = url
    if _WHITESPACE.search(url, start):
        text = url[:start] + _WHITESPACE.sub("", url[start:])
    end = len(text)
    while end > start and text[end - 1] == "=":
        end -= 1
    length, pads = end - start, len(text) - end
    if length % 4 == 1 or pads > 2 or (pads and (length + pads) % 4):
        raise bad_input(
            "the data URL is not valid base64 (wrong length or padding)", "invalid_base64"
        )
    size = length * 3 // 4
    if size > max_bytes:
        raise too_large("the data URL", max_bytes)
    padding = "=" * (-length % 4)
    body = new_spool()
    try:
        for offset in range(start, end, CHUNK_CHARS):
            chunk = text[offset : min(offset + CHUNK_CHARS, end)]
            if offset + CHUNK_CHARS >= end:
                chunk += padding
            try:
                body.write(base64.b64decode(chunk, validate=True))
            except (binascii.Error, ValueError):
                raise bad_input("the data URL is not valid base64", "invalid_base64") from None
        body.seek(0)
    except BaseException:
        body.close()
        raise
    return body, size
