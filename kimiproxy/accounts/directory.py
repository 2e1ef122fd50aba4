"""Which stored account a credential names.

The chat core handles credentials as strings: the Kimi token a client sends (kimi-free-api's
style, ``Bearer T1,T2``), or ``pool:<fingerprint>`` for an account the operator keeps on the
server. A client's token is known by its whole SHA-256 (:func:`token_key`), an alias of its
account: the first time a token is seen it becomes a ``client`` account, named by its short
public fingerprint, and once the account's tokens rotate the key of what the client still sends
leads there, so its unchanged Bearer value keeps working across refreshes and restarts.
"""

from __future__ import annotations

import hashlib
import threading

from kimiproxy.accounts.errors import StoreError
from kimiproxy.accounts.records import CLIENT, fingerprint
from kimiproxy.accounts.store import AccountStore

POOL_PREFIX = "pool:"


def token_key(token: str) -> str:
    """What a client token is known by in the store: all of its SHA-256 (the short public
    fingerprint names accounts, but 48 bits are too few to prove who holds one)."""
    return "sha256:" + hashlib.sha256(token.encode("utf-8")).hexdigest()


def pool_credential(account_fp: str) -> str:
    """The credential that names a server-held account."""
    return POOL_PREFIX + account_fp


def is_pool_credential(credential: str) -> bool:
    return credential.startswith(POOL_PREFIX)


class AccountDirectory:
    """Credentials to account fingerprints, remembered per process (the mapping never changes
    once made: an alias always leads to the same account)."""

    def __init__(self, store: AccountStore, max_entries: int = 65536):
        self.store = store
        self._known: dict[str, str] = {}
        self._max_entries = max_entries
        self._guard = threading.Lock()

    def account_of(self, credential: str) -> str:
        """The fingerprint of the account ``credential`` names; a client token seen for the
        first time is stored as a new ``client`` account."""
        known = self._known.get(credential)
        if known is not None:
            return known
        if is_pool_credential(credential):
            account_fp = credential[len(POOL_PREFIX) :]
        else:
            key = token_key(credential)
            account_fp = self.store.resolve_alias(key) or self._register(credential, key)
        with self._guard:
            if len(self._known) >= self._max_entries:
                self._known.clear()
            self._known[credential] = account_fp
        return account_fp

    def _register(self, token: str, key: str) -> str:
        """A new ``client`` account for ``token``, under its short fingerprint unless another
        token's account already has that one (the short id is public: whoever finds a token
        with the same 48 bits must get an account of their own, not someone else's)."""
        for attempt in range(16):
            account_fp = fingerprint(token if attempt == 0 else f"{token}#{attempt}")
            existing = self.store.get_account(account_fp)
            if existing is None:
                self.store.upsert_account(account_fp, source=CLIENT, refresh_token=token)
                self.store.link_alias(key, account_fp)
                return account_fp
            # Another worker may be registering this very token right now.
            if self.store.resolve_alias(key) == account_fp or token in (
                existing.refresh_token,
                existing.access_token,
            ):
                self.store.link_alias(key, account_fp)
                return account_fp
        raise StoreError("no free account id for a client token")
