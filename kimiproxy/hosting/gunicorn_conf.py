"""gunicorn settings for kimiproxy, each read from the environment.

| variable | meaning | default |
|---|---|---|
| ``KIMIPROXY_BIND`` | address (or ``KIMIPROXY_HOST`` + ``KIMIPROXY_PORT``) | ``0.0.0.0:8000`` |
| ``KIMIPROXY_WORKERS`` | worker processes | ``2`` |
| ``KIMIPROXY_WORKER_CONNECTIONS`` | concurrent requests per worker (greenlets) | ``1000`` |
| ``KIMIPROXY_TIMEOUT`` | seconds a worker may stay silent before it is restarted | ``120`` |
| ``KIMIPROXY_GRACEFUL_TIMEOUT`` | seconds running answers get to finish on shutdown | ``60`` |

The gevent worker runs each request in a greenlet and keeps its heartbeat in another, so a long
streamed answer never trips the worker timeout: ``timeout`` only catches a worker whose event loop
is blocked. The app is not preloaded, so gevent patches the standard library before anything
imports ``ssl`` or ``socket`` users.
"""

import faulthandler
import os
import signal
import sys

_host = os.environ.get("KIMIPROXY_HOST", "0.0.0.0")
_port = os.environ.get("KIMIPROXY_PORT", "8000")
bind = os.environ.get("KIMIPROXY_BIND", f"{_host}:{_port}")
worker_class = "gevent"
workers = int(os.environ.get("KIMIPROXY_WORKERS", "2"))
worker_connections = int(os.environ.get("KIMIPROXY_WORKER_CONNECTIONS", "1000"))
timeout = int(os.environ.get("KIMIPROXY_TIMEOUT", "120"))
graceful_timeout = int(os.environ.get("KIMIPROXY_GRACEFUL_TIMEOUT", "60"))
keepalive = 5
preload_app = False
accesslog = os.environ.get("KIMIPROXY_ACCESS_LOG", "-")
# The query string never carries secrets here, but headers do: the format logs none of them.
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(L)ss'
wsgi_app = "kimiproxy.hosting.wsgi:app"
# gunicorn's control socket has one default path per user: several instances on a machine (the
# proxy, the emulator, tests) would fight over it, and kimiproxy does not use it.
control_socket_disable = True


def post_fork(server, worker):
    """Let an operator dump a stuck worker's stacks with ``kill -USR1 <pid>``."""
    faulthandler.register(signal.SIGUSR1, file=sys.stderr, all_threads=True)


def worker_int(worker):
    worker.log.info("worker %s interrupted", worker.pid)
