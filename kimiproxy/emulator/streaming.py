"""Streamed response bodies: one network write per chunk, optional pacing, cleanup on close."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

from flask import Response


class StreamBody:
    """A WSGI body that yields each chunk separately.

    ``close`` runs ``on_close`` even when the client went away before the first chunk, which a
    plain generator's ``finally`` would miss.
    """

    def __init__(
        self,
        chunks: list[bytes],
        delay: float = 0.0,
        on_close: Callable[[], None] | None = None,
        before: Callable[[], None] | None = None,
    ) -> None:
        self._chunks = chunks
        self._delay = delay
        self._on_close = on_close
        self._before = before
        self._closed = False

    def __iter__(self) -> Iterator[bytes]:
        if self._before is not None:
            self._before()
        for index, chunk in enumerate(self._chunks):
            if index and self._delay > 0:
                # Under the gevent worker time.sleep is patched and yields to other greenlets.
                time.sleep(self._delay)
            yield chunk

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            if self._on_close is not None:
                self._on_close()


def stream_response(
    chunks: list[bytes],
    mimetype: str,
    *,
    delay: float = 0.0,
    on_close: Callable[[], None] | None = None,
    before: Callable[[], None] | None = None,
) -> Response:
    """A streamed response; ``before`` runs when the body starts (e.g. to wait)."""
    body = StreamBody(chunks, delay, on_close, before)
    response = Response(body, mimetype=mimetype)
    response.headers["Cache-Control"] = "no-cache"
    response.headers["X-Accel-Buffering"] = "no"
    return response
