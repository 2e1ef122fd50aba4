"""The durable account store: Kimi accounts and their rotating tokens, shared by every worker
and every instance.

``open_store(url, data_dir, secret_key=...)`` opens the backend ``KIMIPROXY_STATE`` names: an
embedded SQLite file (the default, one host) or Redis (several instances). Both hold the same
things: accounts, aliases from client token fingerprints to accounts, leases with expiry (how
many answers an account streams at once), per-account refresh locks, and a small key/value area.
"""

from kimiproxy.accounts.errors import SealedTokenError, StoreError, StoreUnavailable
from kimiproxy.accounts.opening import open_store
from kimiproxy.accounts.records import (
    CLIENT,
    COOLING,
    DEAD,
    POOL,
    READY,
    Account,
    fingerprint,
)
from kimiproxy.accounts.store import AccountStore, new_holder

__all__ = [
    "CLIENT",
    "COOLING",
    "DEAD",
    "POOL",
    "READY",
    "Account",
    "AccountStore",
    "SealedTokenError",
    "StoreError",
    "StoreUnavailable",
    "fingerprint",
    "new_holder",
    "open_store",
]
