"""Leases on Kimi accounts, shared by every worker and instance through the account store.

Kimi streams one answer per account at a time and refuses a second with
``chat.user_stream_pushing``. Rather than pass that refusal on, the proxy leases an account to a
request for the length of its upstream answer (``KIMIPROXY_ACCOUNT_CONCURRENCY`` at once, and
``KIMIPROXY_ACCOUNT_MIN_INTERVAL`` seconds apart). Leases live in the store, so all workers and
instances see them; they expire after ``KIMIPROXY_LEASE_TTL`` unless renewed, and a background
renewer keeps them alive while an answer streams, so a crashed process frees its accounts
within seconds. A request whose accounts are all busy waits until the store says a lease was
released anywhere, never by asking Kimi.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext

from kimiproxy.accounts import AccountStore, new_holder

log = logging.getLogger(__name__)


class Lease:
    """One request's hold on one account."""

    def __init__(self, leases: AccountLeases, credential: str, account_fp: str, holder: str):
        self.leases = leases
        self.credential = credential
        self.account_fp = account_fp
        self.holder = holder
        self.released = False

    def release(self) -> None:
        if not self.released:
            self.released = True
            self.leases._release(self)


class AccountLeases:
    """Leasing through ``store``; ``account_of(credential)`` names the account."""

    def __init__(
        self,
        store: AccountStore,
        account_of: Callable[[str], str],
        *,
        per_account: int = 1,
        min_interval: float = 0.0,
        ttl: float = 15.0,
    ):
        self.store = store
        self.account_of = account_of
        self.per_account = per_account  # 0: no limit
        self.min_interval = min_interval
        self.ttl = ttl
        self._held: set[Lease] = set()
        self._guard = threading.Lock()
        self._renewer: threading.Thread | None = None
        self._last_started: dict[str, float] = {}

    # -- what selection plugins may ask -----------------------------------------------------
    def in_flight(self, credential: str) -> int:
        """Answers the account streams now, across the deployment."""
        return self.store.in_flight(self.account_of(credential))

    def last_started(self, credential: str) -> float:
        """When this process last leased the account (0: never)."""
        return self._last_started.get(credential, 0.0)

    def busy(self, credential: str) -> bool:
        return bool(self.per_account) and self.in_flight(credential) >= self.per_account

    # -- leasing ----------------------------------------------------------------------------
    def acquire(
        self,
        candidates: list[str],
        choose: Callable[[set[str]], str | None],
        deadline: float,
        interruptible: Callable[[], AbstractContextManager] = nullcontext,
        turned_away: set[str] | None = None,
    ) -> Lease | None:
        """Lease the account ``choose(busy)`` picks among ``candidates``, waiting (inside
        ``interruptible()``) while it picks none but some candidates are busy. ``None`` when
        nothing can be chosen in time. ``turned_away`` collects the candidates the store
        refused although they looked free (taken meanwhile, or too soon after their last
        answer)."""
        refused: set[str] = set()
        while True:
            mark = self.store.release_mark()
            busy = refused | {c for c in candidates if c not in refused and self.busy(c)}
            chosen = choose(busy)
            # A choice outside the free candidates (a plugin ignoring ``excluded``) is none.
            if chosen in candidates and chosen not in busy:
                lease = self._try(chosen)
                if lease is not None:
                    return lease
                refused.add(chosen)  # taken meanwhile, or too soon after its last answer
                if turned_away is not None:
                    turned_away.add(chosen)
                continue
            remaining = deadline - time.monotonic()
            if not busy or remaining <= 0:
                return None
            wait = min(remaining, self.ttl / 2)
            if self.min_interval:
                wait = min(wait, self.min_interval)
            with interruptible():
                self.store.wait_for_release(wait, since=mark)
            refused.clear()

    def _try(self, credential: str) -> Lease | None:
        account_fp = self.account_of(credential)
        holder = new_holder()
        lease = Lease(self, credential, account_fp, holder)
        with self._guard:
            self._held.add(lease)  # renewed from the moment it exists in the store
            if self._renewer is None:
                self._renewer = threading.Thread(
                    target=self._renew_forever, name="kimiproxy-lease-renewer", daemon=True
                )
                self._renewer.start()
        try:
            granted = self.store.acquire_lease(
                account_fp, holder, self.ttl, self.per_account, self.min_interval
            )
        except BaseException:
            lease.release()  # whatever interrupted the call, no lease may be left behind
            raise
        if not granted:
            with self._guard:
                self._held.discard(lease)
            return None
        if len(self._last_started) > 65536:
            self._last_started.clear()
        self._last_started[credential] = time.time()
        return lease

    def _release(self, lease: Lease) -> None:
        with self._guard:
            self._held.discard(lease)
        try:
            self.store.release_lease(lease.account_fp, lease.holder)
        except Exception:  # the lease expires by itself; never turn an answer into an error
            log.warning("releasing the lease on account %s failed", lease.account_fp)

    def _renew_forever(self) -> None:
        """Renew every held lease each third of its ttl; ends when none is held (the next
        lease starts a new renewer)."""
        while True:
            time.sleep(self.ttl / 3)
            with self._guard:
                held = list(self._held)
                if not held:
                    self._renewer = None
                    return
            for lease in held:
                try:
                    if not self.store.renew_lease(lease.account_fp, lease.holder, self.ttl):
                        log.warning("the lease on account %s expired mid-answer", lease.account_fp)
                except Exception:
                    log.warning("renewing the lease on account %s failed", lease.account_fp)
