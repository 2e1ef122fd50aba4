"""Temporary storage for a file on its way upstream: small files stay in memory, larger ones
roll over to a temporary file on disk, so no request holds a whole large file in memory."""

from __future__ import annotations

import tempfile
from typing import IO

# Up to this many bytes of a file are kept in memory before it moves to disk.
MEMORY_BYTES = 1024 * 1024
CHUNK_BYTES = 64 * 1024


def new_spool() -> IO[bytes]:
    """An empty, seekable binary file; close it to free memory or delete it from disk."""
    return tempfile.SpooledTemporaryFile(max_size=MEMORY_BYTES, mode="w+b")


def read_head(body: IO[bytes], size: int = 8192) -> bytes:
    """The first ``size`` bytes of ``body``, leaving it positioned at its start."""
    body.seek(0)
    head = body.read(size)
    body.seek(0)
    return head
