"""Which stored account a credential names.

The chat core handles credentials as strings: the Kimi token a client sends (kimi-free-api's
style, ``Bearer T1,T2``), or ``pool:<fingerprint>`` for an account the operator keeps on the
server. A client's token is known by its fingerprint; the first time it is seen it becomes a
``client`` account, and once its tokens rotate, the fingerprint of what the client still sends
is an alias of that account, so its unchanged Bearer value keeps working across refreshes and
restarts.
"""

from __future__ import annotations

import threading

from kimiproxy.accounts.records import CLIENT, fingerprint
from kimiproxy.accounts.store import AccountStore

POOL_PREFIX = "pool:"


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
            own = fingerprint(credential)
            account_fp = self.store.resolve_alias(own) or own
            if self.store.get_account(account_fp) is None:
                self.store.upsert_account(account_fp, source=CLIENT, refresh_token=credential)
        with self._guard:
            if len(self._known) >= self._max_entries:
                self._known.clear()
            self._known[credential] = account_fp
        return account_fp
