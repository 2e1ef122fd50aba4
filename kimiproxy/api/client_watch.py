"""Noticing that a client has gone while its answer is still being read from Kimi.

A client that gives up (a timeout in its SDK, a closed tab) closes its connection. Without a
watch the proxy would notice only when it next writes: a non-streamed answer would be read to
its end, and a stream in a long silence (thinking, searching) would keep going, both holding the
Kimi account. Under gunicorn's gevent worker a watcher greenlet waits on the client's socket;
when it sees the connection end it throws :class:`~kimiproxy.errors.ClientDisconnected` into the
request's greenlet, wherever that is waiting (usually on Kimi's next bytes), so the chat core
stops reading, releases the account and cleans up at once.

The same socket gets a send timeout (``KIMIPROXY_WRITE_TIMEOUT``): a client that stays connected
but stops reading is cut off instead of holding its account while its buffers are full.
Outside gunicorn (the Flask test client, another WSGI server) and on TLS connections the watch
does nothing. A client that half-closes its connection (shuts down writing but keeps reading)
counts as gone: HTTP clients do not do that while waiting for an answer.
"""

from __future__ import annotations

import logging
import socket
import ssl
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager, nullcontext

from kimiproxy.errors import ClientDisconnected

log = logging.getLogger(__name__)


def _gevent_hub_running() -> bool:
    try:
        from gevent import monkey
    except ImportError:  # pragma: no cover - gevent is a dependency
        return False
    return monkey.is_module_patched("socket")


def client_socket(environ: Mapping[str, object]) -> socket.socket | None:
    """The client's socket, when the server exposes it and gevent runs the worker."""
    sock = environ.get("gunicorn.socket")
    if not isinstance(sock, socket.socket) or not _gevent_hub_running():
        return None
    if isinstance(sock, ssl.SSLSocket):  # TLS cannot peek; such a client is noticed on write
        return None
    return sock


def set_write_timeout(environ: Mapping[str, object], seconds: float) -> None:
    """Bound how long one write to the client may block."""
    sock = client_socket(environ)
    if sock is not None:
        sock.settimeout(seconds)


class ClientWatch:
    """Watches one client connection. :meth:`waiting` marks the stretches (reading from Kimi,
    waiting for an account) into which a disconnect is thrown; a disconnect seen outside them
    is raised when the next one begins. Outside gunicorn's gevent worker it does nothing."""

    def __init__(self, environ: Mapping[str, object]):
        self._sock = client_socket(environ)
        self._target = None
        self._watcher = None
        self._active = False
        self._gone = False

    def start(self) -> ClientWatch:
        if self._sock is not None and self._watcher is None:
            import gevent

            self._target = gevent.getcurrent()
            self._watcher = gevent.spawn(self._watch)
        return self

    def stop(self) -> None:
        self._active = False
        watcher, self._watcher = self._watcher, None
        if watcher is not None:
            watcher.kill(block=True)  # its recv must end before the next request reads

    @property
    def interruptible(self) -> Callable[[], AbstractContextManager]:
        """What the chat core wraps its waits in: :meth:`waiting`, or nothing at all when there
        is no socket to watch (no work per upstream event then)."""
        return self.waiting if self._sock is not None else nullcontext

    @contextmanager
    def waiting(self) -> Iterator[None]:
        if self._gone:
            raise ClientDisconnected("the client closed its connection")
        self._active = True
        try:
            yield
        finally:
            self._active = False

    def _watch(self) -> None:
        import gevent

        while True:
            try:
                data = self._sock.recv(1, socket.MSG_PEEK)
            except (TimeoutError, InterruptedError):
                continue
            except BlockingIOError:
                gevent.sleep(0.1)
                continue
            except OSError:
                data = b""  # reset by the client
            if data:
                return  # the client sent more (a pipelined request): it is still there
            log.info("the client closed its connection before its answer was complete")
            self._gone = True
            gevent.get_hub().loop.run_callback(self._throw)
            return

    def _throw(self) -> None:
        if self._active and self._target is not None:
            self._active = False
            self._target.throw(ClientDisconnected("the client closed its connection"))
