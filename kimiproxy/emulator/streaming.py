"""Streamed response bodies: one network write per chunk, optional pacing, and a release hook
that runs exactly once however the stream ends."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

from flask import Response


class StreamBody:
    """A WSGI body that yields each chunk separately.

    ``release`` (e.g. freeing the account's stream slot) runs once, at the first of:
    just before the last chunk is handed to the server (so a client that has read the whole
    answer can start the next one at once), the iteration ending or being abandoned (an
    exception, or ``GeneratorExit`` when the generator is closed because the client went away),
    and ``close()`` (which the WSGI server calls even when the client left before the first
    chunk, a case a generator's ``finally`` alone would miss).
    """

    def __init__(
        self,
        chunks: list[bytes],
        delay: float = 0.0,
        release: Callable[[], None] | None = None,
        before: Callable[[], None] | None = None,
    ) -> None:
        self._chunks = chunks
        self._delay = delay
        self._release = release
        self._before = before
        self._released = False

    def _release_once(self) -> None:
        if not self._released:
            self._released = True
            if self._release is not None:
                self._release()

    def __iter__(self) -> Iterator[bytes]:
        try:
            if self._before is not None:
                self._before()
            last = len(self._chunks) - 1
            for index, chunk in enumerate(self._chunks):
                if index and self._delay > 0:
                    # Under the gevent worker time.sleep is patched and yields to other greenlets.
                    time.sleep(self._delay)
                if index == last:
                    self._release_once()
                yield chunk
        finally:
            self._release_once()

    def close(self) -> None:
        self._release_once()


def stream_response(
    chunks: list[bytes],
    mimetype: str,
    *,
    delay: float = 0.0,
    release: Callable[[], None] | None = None,
    before: Callable[[], None] | None = None,
) -> Response:
    """A streamed response; ``before`` runs when the body starts (e.g. to wait), ``release``
    once when it ends or is abandoned (see :class:`StreamBody`)."""
    body = StreamBody(chunks, delay, release, before)
    response = Response(body, mimetype=mimetype)
    response.headers["Cache-Control"] = "no-cache"
    response.headers["X-Accel-Buffering"] = "no"
    return response
