"""Importing the configured Kimi tokens into the account store as ``pool`` accounts.

The configured tokens are those of ``KIMIPROXY_KIMI_TOKENS`` and ``KIMIPROXY_TOKENS_FILE``
together. Each becomes (or stays) a ``pool`` account named by the fingerprint of the token as
written; an account that exists keeps its rotated tokens (``upsert_account`` takes tokens only
for a new one), so a restart or a reload never undoes a rotation. Whoever added an account is
remembered in the store's key/value area: an account the configuration added that the
configuration no longer names is deleted; one added through ``POST /v1/accounts`` is kept
until ``DELETE /v1/accounts/{fingerprint}`` removes it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass

from kimiproxy.accounts import POOL, AccountStore, fingerprint
from kimiproxy.pool.lines import TokenEntry

log = logging.getLogger(__name__)
ORIGIN_NAMESPACE = "pool-origin"
FROM_CONFIG, FROM_API = "config", "api"


@dataclass(frozen=True)
class ImportResult:
    """What one import did, by count (fit to log: no token, no fingerprint)."""

    configured: int
    added: int
    removed: int


def origin_of(store: AccountStore, account_fp: str) -> str | None:
    """``config``, ``api``, or ``None`` for an account neither added (a client's own)."""
    origin = store.kv_get(ORIGIN_NAMESPACE, account_fp)
    return origin if isinstance(origin, str) else None


def add_from_api(store: AccountStore, token: str, label: str | None) -> tuple[str, bool]:
    """Add (or adopt) the pool account of ``token`` for the account endpoints; its fingerprint
    and whether it is new. The configuration no longer removes it."""
    account_fp = fingerprint(token)
    existed = store.get_account(account_fp) is not None
    store.upsert_account(account_fp, source=POOL, label=label, refresh_token=token)
    store.kv_set(ORIGIN_NAMESPACE, account_fp, FROM_API)
    return account_fp, not existed


def forget(store: AccountStore, account_fp: str) -> bool:
    """Delete the account and what is remembered of its origin; whether it existed."""
    existed = store.delete_account(account_fp)
    store.kv_delete(ORIGIN_NAMESPACE, account_fp)
    return existed


def import_configured(store: AccountStore, entries: Iterable[TokenEntry]) -> ImportResult:
    """Make the store's configured pool accounts exactly ``entries``: new ones added, labels
    given updated, those no longer configured deleted (API-added ones are left alone) — unless
    ``entries`` is empty, which deletes nothing."""
    wanted: dict[str, TokenEntry] = {}
    for entry in entries:
        wanted.setdefault(fingerprint(entry.token), entry)
    added = 0
    for account_fp, entry in wanted.items():
        if store.get_account(account_fp) is None:
            added += 1
        store.upsert_account(account_fp, source=POOL, label=entry.label, refresh_token=entry.token)
        if origin_of(store, account_fp) != FROM_API:
            store.kv_set(ORIGIN_NAMESPACE, account_fp, FROM_CONFIG)
    removed = 0
    if not wanted:
        # An empty configuration is far likelier a file caught half-written or emptied by
        # mistake than an operator retiring every account, and deleting would lose the
        # rotated tokens for good (Kimi has killed the configured ones): keep them.
        log.warning("the token configuration names no account; the stored ones are kept")
        return ImportResult(configured=0, added=0, removed=0)
    for account_fp in store.kv_keys(ORIGIN_NAMESPACE):
        if account_fp in wanted or origin_of(store, account_fp) != FROM_CONFIG:
            continue
        removed += forget(store, account_fp)
    return ImportResult(configured=len(wanted), added=added, removed=removed)
