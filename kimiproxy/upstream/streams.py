"""Reading a streamed HTTP response as the bytes arrive.

``Response.iter_content(n)`` waits until ``n`` bytes are buffered (or, with ``None``, until the
whole body is in on a non-chunked response), which would hold back small events. ``read1`` returns
whatever one network read produced, so each event is passed on as soon as its bytes are here. The
chunks may end anywhere, even inside a UTF-8 character; the parsers above reassemble them.
"""

from __future__ import annotations

from collections.abc import Iterator

import requests
import urllib3.exceptions

from .http import map_failure

CHUNK = 16 * 1024


class ResponseChunks:
    """An iterable of raw byte chunks with ``close()``, the event source ``sseclient`` expects.

    Transport failures in the middle of the body surface as our errors (timeouts as
    :class:`~kimiproxy.errors.UpstreamTimeout`, a dropped connection as an ``UpstreamError``).
    """

    def __init__(self, response: requests.Response, read_timeout: float | None = None):
        self.response = response
        self._read_timeout = read_timeout

    def __iter__(self) -> Iterator[bytes]:
        raw = self.response.raw
        read1 = getattr(raw, "read1", None)
        try:
            if read1 is None:
                yield from self.response.iter_content(chunk_size=None)
                return
            while True:
                chunk = read1(CHUNK)
                if not chunk:
                    return
                yield chunk
        except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
            raise map_failure(exception=exc, read_timeout=self._read_timeout) from None

    def close(self) -> None:
        self.response.close()
