"""Access tokens for credentials, kept in the account store so that every worker and every
instance uses, and refreshes, the same ones. See ``docs/kimi-protocol.md``,
"Access tokens and their refresh".

Kimi rotates the refresh token on every refresh and kills the old one, so refreshes of one
account run one at a time everywhere: whoever takes the account's refresh lock in the store
refreshes, stores both new tokens durably, and only then uses them; everyone else waits for
those tokens instead of refreshing too. Within a process, callers of one account also queue on
a lock of its own, so only one of them talks to the store while a refresh is on.

Taking the store's refresh lock, refreshing, storing the tokens and releasing the lock is never
cut short by a client that goes away: under gevent it runs in a greenlet of its own, which
finishes even when the caller waiting for it is interrupted (``ClientDisconnected`` thrown into
it), for once Kimi answered the old refresh token is dead and the new one must be stored.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from kimiproxy.accounts import Account, AccountStore, StoreError, new_holder, open_store
from kimiproxy.accounts.directory import AccountDirectory, is_pool_credential
from kimiproxy.errors import AuthenticationFailed, UpstreamTimeout
from kimiproxy.upstream.refresh import Refreshed
from kimiproxy.upstream.tokens import is_access_token, jitter, token_expiry, token_lifetime
from kimiproxy.upstream.uninterrupted import uninterrupted

if TYPE_CHECKING:
    from kimiproxy.settings import Settings

log = logging.getLogger(__name__)

T = TypeVar("T")

Refresher = Callable[[str, str, Callable[[], object]], Refreshed]
# Seconds between two looks at an account whose refresh someone else is doing.
POLL_INTERVAL = 0.05
# How long past the refresh lock's ttl a waiter keeps waiting for the holder's tokens.
WAIT_SLACK = 2.0
SAVE_ATTEMPTS = 3


class TokenKeeper:
    """The access token to send for a credential, refreshed ahead of its expiry.

    ``refresher(account_fp, refresh_token, extend_lock)`` does the network call. ``margin``
    (seconds, ±20 % per token) is how long before a JWT's ``exp`` it is refreshed, at most half
    its lifetime; ``ttl`` caps the reuse of an access token that carries no ``exp`` (``rest``);
    without both, such a token is used until Kimi refuses it. ``lock_ttl`` bounds one refresh.

    Locks are made when the keeper is, never at import time: under gunicorn's gevent worker
    ``threading`` and ``time.sleep`` are patched by then, so waiting is cooperative.
    """

    def __init__(
        self,
        directory: AccountDirectory,
        refresher: Refresher,
        *,
        margin: float,
        lock_ttl: float,
        ttl: float | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] | None = None,
        max_entries: int = 4096,
    ):
        self.directory = directory
        self.store: AccountStore = directory.store
        self._refresher = refresher
        self._margin = margin
        self._lock_ttl = lock_ttl
        self._ttl = ttl
        self._clock = clock
        self._sleep = sleep
        self._max_entries = max_entries
        self._locks: dict[str, threading.Lock] = {}
        self._refused: dict[str, None] = {}  # hashes of access tokens Kimi refused, oldest first
        self._guard = threading.Lock()  # the two dicts' structure; never held across a call

    def __repr__(self) -> str:
        return f"TokenKeeper(store={self.store!r}, margin={self._margin:g})"

    # -- what the transport asks ---------------------------------------------------------------

    def get(self, credential: str) -> str:
        """The access token to send for ``credential``, refreshed first when it is due."""
        if self._direct(credential):
            return credential
        account_fp = self.directory.account_of(credential)
        account = self._account(account_fp)
        if not _refreshable(account):
            return _held_token(account)
        access = self._usable(account)
        if access is not None:
            return access
        with self._lock_for(account_fp):
            return self._refreshed(account_fp)

    def invalidate(self, credential: str, access_token: str | None = None) -> None:
        """Kimi refused ``access_token`` (by default, the one stored now): the next :meth:`get`
        refreshes, unless the stored token is by then another one."""
        if self._direct(credential):
            return
        if access_token is None:
            account = self.store.get_account(self.directory.account_of(credential))
            access_token = account.access_token if account else None
        if access_token:
            with self._guard:
                self._refused[_key(access_token)] = None
                while len(self._refused) > self._max_entries:
                    del self._refused[next(iter(self._refused))]

    def can_refresh(self, credential: str) -> bool:
        """Whether a refresh could produce a different token (an access JWT cannot be renewed)."""
        if self._direct(credential):
            return False
        if not is_pool_credential(credential):
            return True
        account = self.store.get_account(self.directory.account_of(credential))
        return account is not None and _refreshable(account)

    def secrets_for(self, credential: str) -> tuple[str, ...]:
        """What an error message about ``credential`` must never show: the credential and the
        tokens stored for its account."""
        if self._direct(credential):
            return (credential,)
        try:
            account = self.store.get_account(self.directory.account_of(credential))
        except StoreError:
            return (credential,)
        if account is None:
            return (credential,)
        return tuple(t for t in (credential, account.access_token, account.refresh_token) if t)

    # -- refreshing ----------------------------------------------------------------------------

    def _refreshed(self, account_fp: str) -> str:
        """A usable access token for the account: someone else's fresh one, or our own."""
        holder = new_holder()
        deadline = time.monotonic() + self._lock_ttl + WAIT_SLACK
        while True:
            account = self._account(account_fp)
            access = self._usable(account)
            if access is not None:
                return access
            access = uninterrupted(lambda: self._refresh_if_free(account_fp, holder))
            if access is not None:
                return access
            if time.monotonic() >= deadline:
                raise UpstreamTimeout(
                    f"Another token refresh of account {account_fp} did not finish in time"
                )
            (self._sleep or time.sleep)(POLL_INTERVAL)

    def _refresh_if_free(self, account_fp: str, holder: str) -> str | None:
        """Take the account's refresh lock, refresh, store the tokens and release the lock;
        ``None`` when someone else has the lock."""
        acquired: bool | None = None  # None: the store failed, maybe after taking it
        try:
            acquired = self.store.acquire_refresh_lock(account_fp, holder, self._lock_ttl)
            if not acquired:
                return None
            # Whoever held the lock before us may have just stored fresh tokens.
            account = self._account(account_fp)
            return self._usable(account) or self._refresh(account, holder)
        finally:
            if acquired is not False:
                self.store.release_refresh_lock(account_fp, holder)

    def _refresh(self, account: Account, holder: str) -> str:
        account_fp = account.fingerprint
        log.info("account %s: refreshing its access token", account_fp)

        def extend_lock() -> None:
            self.store.acquire_refresh_lock(account_fp, holder, self._lock_ttl)

        refreshed = self._refresher(account_fp, account.refresh_token or "", extend_lock)
        access = refreshed.access_token
        expires = token_expiry(access)
        if expires is None and self._ttl is not None:
            expires = self._clock() + self._ttl
        # The old refresh token may be dead already: the new one is written down before the
        # new access token is used, or a restart would hold only a dead token.
        self._save(account_fp, refreshed.refresh_token or account.refresh_token, access, expires)
        with self._guard:
            self._refused.pop(_key(access), None)  # Kimi just handed it out: it is good now
        rotated = bool(refreshed.refresh_token) and refreshed.refresh_token != account.refresh_token
        log.info(
            "account %s: access token refreshed through the %s endpoint%s",
            account_fp,
            refreshed.endpoint,
            ", refresh token rotated" if rotated else "",
        )
        return access

    def _save(
        self, account_fp: str, refresh: str | None, access: str, expires: float | None
    ) -> None:
        for attempt in range(1, SAVE_ATTEMPTS + 1):
            try:
                if not self.store.set_tokens(account_fp, refresh, access, expires):
                    log.warning("account %s was removed while its token was refreshed", account_fp)
                return
            except StoreError as error:
                if attempt == SAVE_ATTEMPTS:
                    log.error(
                        "account %s: its new tokens could not be stored (%s); it may need a "
                        "new refresh token",
                        account_fp,
                        error.message,
                    )
                    raise
                (self._sleep or time.sleep)(0.2 * attempt)

    # -- reading the store ---------------------------------------------------------------------

    def _account(self, account_fp: str) -> Account:
        account = self.store.get_account(account_fp)
        if account is None:
            raise AuthenticationFailed(f"There is no Kimi account {account_fp}")
        return account

    def _usable(self, account: Account) -> str | None:
        """The stored access token, unless it is missing, refused, or due for a refresh."""
        access = account.access_token
        if not access or _key(access) in self._refused:
            return None
        now = self._clock()
        exp = token_expiry(access)
        if exp is None:
            expires = account.access_expires_at
            return access if expires is None or now < expires else None
        margin = self._margin * jitter(access)
        lifetime = token_lifetime(access)
        if lifetime is not None:
            margin = min(margin, lifetime / 2)
        return access if now < exp - margin else None

    def _direct(self, credential: str) -> bool:
        return not is_pool_credential(credential) and is_access_token(credential)

    def _lock_for(self, account_fp: str) -> threading.Lock:
        with self._guard:
            lock = self._locks.get(account_fp)
            if lock is None:
                if len(self._locks) >= self._max_entries:
                    # Anyone can send ever-new tokens: drop the locks nobody holds.
                    for name in [n for n, held in self._locks.items() if not held.locked()]:
                        del self._locks[name]
                lock = self._locks[account_fp] = threading.Lock()
            return lock


def _key(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _refreshable(account: Account) -> bool:
    return bool(account.refresh_token) and not is_access_token(account.refresh_token)


def _held_token(account: Account) -> str:
    """The token of an account that holds only an access JWT: sent as it is."""
    token = account.access_token or account.refresh_token
    if not token:
        raise AuthenticationFailed(f"Kimi account {account.fingerprint} holds no token")
    return token


def open_directory(settings: Settings) -> AccountDirectory:
    """The account directory on the store the settings name (for a client built on its own;
    the app hands its clients the directory it already has)."""
    store = open_store(settings.state, settings.data_dir, secret_key=settings.secret_key or None)
    return AccountDirectory(store)
