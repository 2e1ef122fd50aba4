"""Reading uploaded bytes: hashed as they stream in so large files never sit in memory."""

from __future__ import annotations

import hashlib
import mimetypes
from typing import BinaryIO

_READ_SIZE = 64 * 1024


def hash_stream(stream: BinaryIO) -> tuple[int, str]:
    """``(size, sha256 hex)`` of everything left in ``stream``."""
    digest = hashlib.sha256()
    size = 0
    while True:
        block = stream.read(_READ_SIZE)
        if not block:
            break
        size += len(block)
        digest.update(block)
    return size, digest.hexdigest()


def drain(stream: BinaryIO) -> None:
    """Read and drop the rest of a request body so the client can finish sending it."""
    while stream.read(_READ_SIZE):
        pass


def mime_for(name: str, given: str | None) -> str:
    """The MIME type the client declared, else one guessed from the file name."""
    if given and given != "application/octet-stream":
        return given
    guessed, _ = mimetypes.guess_type(name)
    return guessed or given or "application/octet-stream"
