"""The connection to Redis behind the shared store: for several instances of kimiproxy.

Keys live under a prefix (``kimiproxy:`` unless configured), so one Redis can serve other
applications or several separate proxies. redis-py reconnects on the next call once the server
is back; until then every call raises ``StoreUnavailable``. With gevent's monkey-patching its
sockets are cooperative. Durability is the server's: run it with ``appendonly yes`` so rotated
tokens survive a Redis restart.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit, urlunsplit

import redis
from redis.backoff import ExponentialBackoff
from redis.exceptions import BusyLoadingError, ReadOnlyError, RedisError
from redis.retry import Retry

from kimiproxy.accounts import redis_scripts
from kimiproxy.accounts.cipher import TokenCipher
from kimiproxy.accounts.errors import StoreError, StoreUnavailable
from kimiproxy.accounts.store import AccountStore

DEFAULT_PREFIX = "kimiproxy:"

_UNREACHABLE = (redis.ConnectionError, redis.TimeoutError, BusyLoadingError, ReadOnlyError)
_SCRIPTS = (
    "UPSERT_ACCOUNT",
    "UPDATE_ACCOUNT",
    "DELETE_ACCOUNT",
    "LINK_ALIAS",
    "ACQUIRE_LEASE",
    "RENEW_LEASE",
    "RELEASE_LEASE",
    "IN_FLIGHT",
    "ACQUIRE_LOCK",
    "RELEASE_LOCK",
)


def printable_url(url: str) -> str:
    """``url`` without its password."""
    parts = urlsplit(url)
    user, at, host = parts.netloc.rpartition("@")
    if not at or ":" not in user:
        return url
    netloc = f"{user.split(':', 1)[0]}:***@{host}"
    return urlunsplit(parts._replace(netloc=netloc))


class RedisBase(AccountStore):
    """The client, key names, script calls and the mapping of Redis errors to the store's."""

    def __init__(
        self,
        url: str,
        cipher: TokenCipher,
        *,
        prefix: str = DEFAULT_PREFIX,
        socket_timeout: float = 5.0,
    ):
        super().__init__(cipher)
        self.location = printable_url(url)
        self.prefix = prefix
        self._client = redis.Redis.from_url(
            url,
            decode_responses=True,
            socket_timeout=socket_timeout,
            socket_connect_timeout=min(socket_timeout, 2.0),
            health_check_interval=30,
            # One quick retry rides over a pooled connection the server dropped (a restart);
            # a server that is down fails fast.
            retry=Retry(ExponentialBackoff(cap=0.05, base=0.01), 1),
            retry_on_error=[redis.ConnectionError],
        )
        self._scripts = {
            name: self._client.register_script(getattr(redis_scripts, name)) for name in _SCRIPTS
        }

    def key(self, *parts: str) -> str:
        return self.prefix + ":".join(parts)

    @contextmanager
    def _guarded(self) -> Iterator[None]:
        try:
            yield
        except _UNREACHABLE as error:
            raise StoreUnavailable(
                f"the account store {self.location} is unavailable: {type(error).__name__}: "
                f"{_first_line(error)}"
            ) from None
        except RedisError as error:
            # Other errors' text may quote what was sent; the class says enough.
            raise StoreError(
                f"the account store {self.location} failed: {type(error).__name__}"
            ) from None

    def _run(self, script: str, keys: list[str], args: list) -> object:
        with self._guarded():
            return self._scripts[script](keys=keys, args=args)

    def ping(self) -> None:
        with self._guarded():
            self._client.ping()

    def close(self) -> None:
        self._client.close()


def _first_line(error: Exception) -> str:
    return str(error).splitlines()[0] if str(error) else ""


def milliseconds(seconds: float) -> int:
    """A positive whole number of milliseconds, as Redis expiries need."""
    return max(1, round(seconds * 1000))
