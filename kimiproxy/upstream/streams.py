"""Reading a streamed HTTP response as the bytes arrive.

``Response.iter_content(n)`` waits until ``n`` bytes are buffered (or, with ``None``, until the
whole body is in on a non-chunked response), which would hold back small events. ``read1`` returns
whatever one network read produced, so each event is passed on as soon as its bytes are here. The
chunks may end anywhere, even inside a UTF-8 character; the parsers above reassemble them.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import requests
import urllib3.exceptions
import urllib3.response

from kimiproxy.errors import UpstreamTimeout
from kimiproxy.upstream.failures import map_failure

CHUNK = 16 * 1024


class ResponseChunks:
    """An iterable of raw byte chunks with ``close()``, the event source ``sseclient`` expects.

    Transport failures in the middle of the body surface as our errors (timeouts as
    :class:`~kimiproxy.errors.UpstreamTimeout`, a dropped connection as an ``UpstreamError``).
    The read timeout bounds each network read; ``deadline`` (a :func:`time.monotonic` value)
    bounds the whole body: once it has passed, no further read is made.
    """

    def __init__(
        self,
        response: requests.Response,
        read_timeout: float | None = None,
        deadline: float | None = None,
    ):
        self.response = response
        self._read_timeout = read_timeout
        self._deadline = deadline

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self._network_reads():
            yield chunk
            if self._deadline is not None and time.monotonic() >= self._deadline:
                # A stream of keep-alives never trips the read timeout; this ends it anyway.
                raise UpstreamTimeout("Kimi kept the stream open past its time limit")

    def _network_reads(self) -> Iterator[bytes]:
        raw = self.response.raw
        try:
            if isinstance(raw, urllib3.response.HTTPResponse) and hasattr(raw, "read1"):
                # requests leaves ``raw`` undecoded (it decodes in ``iter_content``) and asks for
                # gzip by default: undo the content-encoding here, or parsers would see gzip.
                while chunk := raw.read1(CHUNK, decode_content=True):
                    yield chunk
            else:
                yield from self.response.iter_content(chunk_size=None)
        except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
            raise map_failure(exception=exc, read_timeout=self._read_timeout) from None

    def close(self) -> None:
        self.response.close()
