"""Upload bodies that stream from a file object, so a 100 MB upload never sits in memory whole.

``requests`` sends any object with ``read`` and ``__len__`` as a streamed body with a
``Content-Length``; its own ``files=`` multipart encoder would read the file into memory first.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import BinaryIO

CHUNK = 64 * 1024


class FileSlice:
    """Exactly ``size`` bytes of ``body``, starting where ``body`` is positioned now.

    The start is remembered so :meth:`reopen` can serve the same bytes again for a retry.
    """

    def __init__(self, body: BinaryIO, size: int):
        self._body = body
        self._size = size
        self._start = body.tell()
        self._left = size

    def reopen(self) -> FileSlice:
        """A fresh reader over the same bytes."""
        self._body.seek(self._start)
        return FileSlice(self._body, self._size)

    def __len__(self) -> int:
        return self._size

    def read(self, amount: int = -1) -> bytes:
        if self._left <= 0:
            return b""
        if amount is None or amount < 0 or amount > self._left:
            amount = self._left
        data = self._body.read(amount)
        self._left -= len(data)
        if not data:
            # The file is shorter than announced; stop rather than send a short body forever.
            self._left = 0
        return data

    def __iter__(self) -> Iterator[bytes]:
        while chunk := self.read(CHUNK):
            yield chunk


def _header_value(text: str) -> str:
    # A filename is user input: keep it from breaking out of the quoted header parameter.
    return text.replace("\\", "\\\\").replace('"', "%22").replace("\r", " ").replace("\n", " ")


def new_boundary() -> str:
    """A multipart boundary that cannot plausibly occur inside the file."""
    return "----kimiproxy" + secrets.token_hex(16)


class MultipartFile:
    """A ``multipart/form-data`` body with one file field, streamed from a :class:`FileSlice`."""

    def __init__(
        self,
        field: str,
        filename: str,
        mime_type: str,
        content: FileSlice,
        boundary: str | None = None,
    ):
        self.boundary = boundary or new_boundary()
        self._content = content
        self._head = (
            f"--{self.boundary}\r\n"
            f'Content-Disposition: form-data; name="{_header_value(field)}"; '
            f'filename="{_header_value(filename)}"\r\n'
            f"Content-Type: {_header_value(mime_type or 'application/octet-stream')}\r\n\r\n"
        ).encode()
        self._tail = f"\r\n--{self.boundary}--\r\n".encode()
        self._parts = [self._head, content, self._tail]

    @property
    def content_type(self) -> str:
        return f"multipart/form-data; boundary={self.boundary}"

    def __len__(self) -> int:
        return len(self._head) + len(self._content) + len(self._tail)

    def read(self, amount: int = -1) -> bytes:
        if amount is None or amount < 0:
            return b"".join(iter(lambda: self.read(CHUNK), b""))
        while self._parts:
            part = self._parts[0]
            if isinstance(part, bytes):
                data, rest = part[:amount], part[amount:]
                if rest:
                    self._parts[0] = rest
                else:
                    self._parts.pop(0)
            else:
                data = part.read(amount)
                if not data:
                    self._parts.pop(0)
                    continue
            if data:
                return data
        return b""

    def __iter__(self) -> Iterator[bytes]:
        while chunk := self.read(CHUNK):
            yield chunk
