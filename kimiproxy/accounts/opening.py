"""``open_store``: the backend a ``KIMIPROXY_STATE`` URL names.

- ``""`` or ``sqlite://``: the embedded store, ``<data_dir>/state.db`` (``./.kimiproxy/``);
- ``sqlite:///absolute/path/state.db``: the embedded store at that path;
- ``redis://[:password@]host[:port][/db][?prefix=name:]`` (or ``rediss://`` for TLS): the
  shared store, keys under ``prefix`` (``kimiproxy:``).
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from kimiproxy.accounts.cipher import TokenCipher
from kimiproxy.accounts.redis_client import DEFAULT_PREFIX, printable_url
from kimiproxy.accounts.store import AccountStore

DEFAULT_DATA_DIR = Path(".kimiproxy")
DATABASE_NAME = "state.db"
_FORMS = "sqlite://, sqlite:///absolute/path/state.db or redis://host:port/db"


def open_store(
    url: str | None = "",
    data_dir: str | Path | None = None,
    *,
    secret_key: str | None = None,
    prefix: str | None = None,
) -> AccountStore:
    """The store ``url`` names. ``secret_key`` (``KIMIPROXY_SECRET_KEY``) turns on encryption
    of tokens at rest; ``prefix`` overrides the Redis key prefix. A URL that names no store
    raises ``ValueError``; a backend that cannot be reached raises ``StoreUnavailable`` (SQLite
    when it is opened, Redis on first use)."""
    url = (url or "").strip()
    cipher = TokenCipher(secret_key)
    if url in ("", "sqlite://"):
        from kimiproxy.accounts.sqlite_store import SQLiteStore

        return SQLiteStore(Path(data_dir or DEFAULT_DATA_DIR) / DATABASE_NAME, cipher)
    try:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme == "sqlite":
            return _open_sqlite(parts, cipher)
        if scheme in ("redis", "rediss"):
            return _open_redis(parts, cipher, prefix)
    except ValueError as error:
        if str(error).startswith("KIMIPROXY_STATE"):
            raise
        raise _invalid(url, str(error)) from None
    raise _invalid(url, f"unknown scheme {parts.scheme!r}")


def _open_sqlite(parts, cipher: TokenCipher) -> AccountStore:
    from kimiproxy.accounts.sqlite_store import SQLiteStore

    if parts.netloc or not parts.path.startswith("/") or parts.query or parts.fragment:
        raise ValueError("a SQLite URL is sqlite:// or sqlite:/// and an absolute path")
    return SQLiteStore(Path(parts.path), cipher)


def _open_redis(parts, cipher: TokenCipher, prefix: str | None) -> AccountStore:
    from kimiproxy.accounts.redis_store import RedisStore

    if not parts.hostname:
        raise ValueError("a Redis URL names a host")
    parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    database = parts.path.lstrip("/")
    if database and not database.isdigit():
        raise ValueError(f"the database is a number, not {database!r}")
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    chosen = prefix if prefix is not None else query.pop("prefix", DEFAULT_PREFIX)
    query.pop("prefix", None)
    if not chosen:
        raise ValueError("the key prefix must not be empty")
    url = urlunsplit(parts._replace(query=urlencode(query), fragment=""))
    return RedisStore(url, cipher, prefix=chosen)


def _invalid(url: str, reason: str) -> ValueError:
    return ValueError(
        f"KIMIPROXY_STATE={printable_url(url)!r} names no account store ({reason}): use {_FORMS}"
    )
