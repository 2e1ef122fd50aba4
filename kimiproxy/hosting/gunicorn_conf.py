"""gunicorn settings for kimiproxy, read from the environment through :mod:`kimiproxy.settings`.

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
import signal
import sys

from kimiproxy.hosting.logs import configure_logging
from kimiproxy.settings import load_config

settings = load_config()
configure_logging(settings.log_level)
bind = settings.bind_address
worker_class = "gevent"
workers = settings.workers
worker_connections = settings.worker_connections
timeout = settings.timeout
graceful_timeout = settings.graceful_timeout
loglevel = settings.log_level.lower()
keepalive = 5
preload_app = False
accesslog = settings.access_log or None
# The query string never carries secrets here, but headers do: the format logs none of them.
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(L)ss'
wsgi_app = "kimiproxy.hosting.wsgi:app"
# gunicorn's control socket has one default path per user: several instances on a machine (the
# proxy, the emulator, tests) would fight over it, and kimiproxy does not use it.
control_socket_disable = True


def post_fork(server, worker):
    """Let an operator dump a stuck worker's stacks with ``kill -USR1 <pid>``."""
    faulthandler.register(signal.SIGUSR1, file=sys.stderr, all_threads=True)


def post_worker_init(worker):
    """SIGHUP to a worker re-reads the tokens and keys files in place (gunicorn's default would
    end the worker and its requests); SIGHUP to the master replaces the workers gracefully, and
    the new ones read the files as they start."""
    state = getattr(worker.wsgi, "extensions", {}).get("kimiproxy")
    if state is not None:
        signal.signal(signal.SIGHUP, lambda signum, frame: state.pool.request_reload())


def worker_int(worker):
    worker.log.info("worker %s interrupted", worker.pid)
