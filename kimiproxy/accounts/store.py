"""The account store's interface, which both backends (SQLite, Redis) implement.

Every worker process and every instance of kimiproxy pointed at one store sees the same
accounts, leases and locks. Every method raises ``StoreUnavailable`` when the backend cannot be
reached and ``StoreError`` for other backend failures, never a raw backend exception.

Leases are how many answers an account streams at once across all of them: a lease has an
expiry, so the accounts of a process that crashed come free when its leases expire. Holders are
strings the caller chooses, unique per lease (``new_holder()``).
"""

from __future__ import annotations

import json
import os
import socket
import uuid
from abc import ABC, abstractmethod

from kimiproxy.accounts.cipher import TokenCipher
from kimiproxy.accounts.records import SOURCES, Account

_FLOATS = ("access_expires_at", "cooldown_until", "last_error_at", "created_at", "updated_at")
_TEXTS = ("label", "source", "state", "last_error_kind")


def new_holder() -> str:
    """A lease or lock holder id unique across hosts and processes."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:12]}"


class AccountStore(ABC):
    """Accounts, aliases, leases, refresh locks and a small key/value area, shared durably."""

    #: Where the store lives, fit to print (no password).
    location: str

    def __init__(self, cipher: TokenCipher):
        self._cipher = cipher

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.location!r}, encrypts={self._cipher.encrypts})"

    # -- health ----------------------------------------------------------------------------

    @abstractmethod
    def ping(self) -> None:
        """Return when the backend answers; raise ``StoreUnavailable`` otherwise."""

    @abstractmethod
    def close(self) -> None:
        """Let go of connections (the store reconnects if used again)."""

    # -- accounts --------------------------------------------------------------------------

    @abstractmethod
    def upsert_account(
        self,
        fingerprint: str,
        *,
        source: str | None = None,
        label: str | None = None,
        refresh_token: str | None = None,
        access_token: str | None = None,
        access_expires_at: float | None = None,
        quota: dict | None = None,
        replace_tokens: bool = False,
    ) -> Account:
        """Create the account, or update the ``label``, ``source`` and ``quota`` given of an
        existing one; the account as stored afterwards.

        Tokens are taken only for a new account (or with ``replace_tokens``): re-importing the
        token an account started from must not undo its rotations. A new account's ``source``
        defaults to ``pool``. Durable before it returns.
        """

    @abstractmethod
    def get_account(self, fingerprint: str) -> Account | None:
        """The account, or ``None``."""

    @abstractmethod
    def list_accounts(self, source: str | None = None) -> list[Account]:
        """All accounts (of one ``source`` if given), oldest first."""

    @abstractmethod
    def delete_account(self, fingerprint: str) -> bool:
        """Remove the account and the aliases pointing at it; whether it existed."""

    @abstractmethod
    def set_tokens(
        self,
        fingerprint: str,
        refresh_token: str | None,
        access_token: str | None,
        access_expires_at: float | None,
    ) -> bool:
        """Store freshly rotated tokens; durable before it returns. ``False`` when there is no
        such account (nothing is stored)."""

    @abstractmethod
    def mark_ready(self, fingerprint: str) -> bool:
        """State ``ready``, cool-down cleared; whether the account exists."""

    @abstractmethod
    def mark_cooling(self, fingerprint: str, until: float, error_kind: str) -> bool:
        """State ``cooling`` until the epoch time ``until``, because of ``error_kind``."""

    @abstractmethod
    def mark_dead(self, fingerprint: str, error_kind: str) -> bool:
        """State ``dead`` (Kimi refuses its tokens for good), because of ``error_kind``."""

    @abstractmethod
    def record_success(self, fingerprint: str) -> bool:
        """Count one request that succeeded."""

    @abstractmethod
    def record_failure(self, fingerprint: str, kind: str) -> bool:
        """Count one request that failed (in ``requests`` and ``failures``) and note why."""

    # -- aliases ---------------------------------------------------------------------------

    @abstractmethod
    def link_alias(self, alias_fp: str, account_fp: str) -> bool:
        """Map the fingerprint of a token a client sends to the account it became; ``False``
        (nothing linked) when the account does not exist."""

    @abstractmethod
    def resolve_alias(self, alias_fp: str) -> str | None:
        """The account fingerprint ``alias_fp`` maps to, or ``None``."""

    # -- leases ----------------------------------------------------------------------------

    @abstractmethod
    def acquire_lease(
        self, fingerprint: str, holder: str, ttl: float, limit: int = 1, min_interval: float = 0.0
    ) -> bool:
        """Grant ``holder`` a lease on the account for ``ttl`` seconds, atomically, when it has
        fewer than ``limit`` unexpired leases (0: no limit) and at least ``min_interval``
        seconds passed since its last lease started. A holder that already holds a lease on
        the account gets it extended (``True``)."""

    @abstractmethod
    def renew_lease(self, fingerprint: str, holder: str, ttl: float) -> bool:
        """Extend ``holder``'s unexpired lease to ``ttl`` seconds from now; ``False`` when it
        has none (it expired and may have been given to someone else)."""

    @abstractmethod
    def release_lease(self, fingerprint: str, holder: str) -> None:
        """End ``holder``'s lease and wake the waiters everywhere."""

    @abstractmethod
    def in_flight(self, fingerprint: str) -> int:
        """How many unexpired leases the account has."""

    @abstractmethod
    def release_mark(self) -> int:
        """A counter that changes whenever a lease is released anywhere; pass it to
        ``wait_for_release(since=...)`` so a release between a refused acquire and the wait
        is not missed."""

    @abstractmethod
    def wait_for_release(self, timeout: float, since: int | None = None) -> bool:
        """Block (cooperatively under gevent) until a lease is released anywhere, or for
        ``timeout`` seconds; whether one was. With ``since`` (a ``release_mark()``), return at
        once if one was released since. A lease that expires instead wakes no one: wait in
        slices no longer than the leases' ``ttl``."""

    # -- refresh locks ---------------------------------------------------------------------

    @abstractmethod
    def acquire_refresh_lock(self, fingerprint: str, holder: str, ttl: float) -> bool:
        """Take the account's refresh lock for ``ttl`` seconds if it is free or expired (or
        extend it if ``holder`` has it): one token refresh per account at a time."""

    @abstractmethod
    def release_refresh_lock(self, fingerprint: str, holder: str) -> bool:
        """Free the lock if ``holder`` has it; whether it did."""

    # -- key/value -------------------------------------------------------------------------

    @abstractmethod
    def kv_set(self, namespace: str, key: str, value: object, ttl: float | None = None) -> None:
        """Store a JSON-serialisable ``value``, for ``ttl`` seconds if given."""

    @abstractmethod
    def kv_get(self, namespace: str, key: str) -> object | None:
        """The value stored and not expired, or ``None``."""

    @abstractmethod
    def kv_delete(self, namespace: str, key: str) -> bool:
        """Remove the key; whether it was there."""

    @abstractmethod
    def kv_keys(self, namespace: str) -> list[str]:
        """The unexpired keys of ``namespace``, sorted."""

    # -- shared by the backends ------------------------------------------------------------

    def _seal(self, token: str | None) -> str | None:
        return self._cipher.seal(token)

    def _account(self, fingerprint: str, stored: dict) -> Account:
        """An ``Account`` from a backend's stored fields (strings or native values)."""
        values: dict = {"fingerprint": fingerprint}
        for name in _FLOATS:
            raw = stored.get(name)
            values[name] = None if raw in (None, "") else float(raw)
        for name in _TEXTS:
            raw = stored.get(name)
            if raw is not None:
                values[name] = str(raw)
        for name in ("requests", "failures"):
            values[name] = int(stored.get(name) or 0)
        quota = stored.get("quota")
        values["quota"] = json.loads(quota) if quota else None
        values["refresh_token"] = self._cipher.open(stored.get("refresh_token"))
        values["access_token"] = self._cipher.open(stored.get("access_token"))
        values["created_at"] = values["created_at"] or 0.0
        values["updated_at"] = values["updated_at"] or 0.0
        return Account(**values)


def check_source(source: str | None) -> None:
    if source is not None and source not in SOURCES:
        raise ValueError(f"an account's source is one of {', '.join(SOURCES)}, not {source!r}")


def check_namespace(namespace: str) -> None:
    if not namespace or ":" in namespace:
        raise ValueError(
            f"a key/value namespace is a non-empty name without ':', not {namespace!r}"
        )


def encode_quota(quota: dict | None) -> str | None:
    return None if quota is None else json.dumps(quota, separators=(",", ":"), sort_keys=True)
