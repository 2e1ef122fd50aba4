"""Account health: what a failure before output says about the account that answered.

- Kimi refused a server-held account's tokens (401): the account is ``dead`` until its tokens
  change.
- Kimi throttles the account or is overloaded for it: it ``cools`` down, for ``Retry-After``
  seconds when Kimi says (capped at ``KIMIPROXY_MAX_COOLDOWN``), otherwise for a backoff that
  doubles with each failure in a row (1, 2, 4 … seconds, with jitter), and is chosen again when
  the cool-down is over.
- A success resets both.
Every worker and instance sees the same state, in the account store. Keeping it is best effort:
when the store cannot be reached, the outcome goes unrecorded (with a warning) rather than
turning an answer Kimi already gave into an error, or Kimi's own error into a store error.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable

from kimiproxy.accounts import DEAD, AccountStore
from kimiproxy.accounts.directory import is_pool_credential
from kimiproxy.accounts.errors import StoreError
from kimiproxy.errors import AuthenticationFailed, KimiProxyError

log = logging.getLogger(__name__)
BACKOFF_NAMESPACE = "backoff"
BUSY = "account_busy"  # Kimi's "still streaming another answer": no fault of the account
# Kimi throttling the account, or overloaded for it; not, say, a used-up research quota.
COOLING_CODES = frozenset({"rate_limit_exceeded", "upstream_overloaded"})


def _about_the_account(error: KimiProxyError) -> bool:
    """Whether ``error`` came from Kimi or the way to it (not from the client's own input,
    such as a file that could not be fetched)."""
    return error.status >= 500 or error.status in (401, 403, 429)


class AccountHealth:
    def __init__(self, store: AccountStore, account_of: Callable[[str], str], max_cooldown: float):
        self.store = store
        self.account_of = account_of
        self.max_cooldown = max_cooldown

    def usable(self, credential: str) -> bool:
        account = self.store.get_account(self.account_of(credential))
        return account is None or account.usable()

    def cooling_until(self, credentials: list[str]) -> float | None:
        """The soonest end of a cool-down among ``credentials``, if any is cooling."""
        ends = []
        for credential in credentials:
            account = self.store.get_account(self.account_of(credential))
            if account is not None and account.state != DEAD and account.cooldown_until:
                ends.append(account.cooldown_until)
        return min(ends) if ends else None

    def succeeded(self, credential: str) -> None:
        try:
            self._record_success(self.account_of(credential))
        except StoreError as error:
            log.warning("recording an account's success failed: %s", error.code)

    def failed(self, credential: str, error: KimiProxyError) -> None:
        if error.code == BUSY or not _about_the_account(error):
            return
        try:
            self._record_failure(self.account_of(credential), credential, error)
        except StoreError as store_error:
            log.warning("recording an account's failure failed: %s", store_error.code)

    def _record_success(self, account_fp: str) -> None:
        self.store.record_success(account_fp)
        account = self.store.get_account(account_fp)
        if account is not None and (account.state != "ready" or account.cooldown_until):
            # A backoff streak exists only beside a cool-down: a healthy account's success
            # writes nothing more.
            self.store.mark_ready(account_fp)
            self.store.kv_delete(BACKOFF_NAMESPACE, account_fp)

    def _record_failure(self, account_fp: str, credential: str, error: KimiProxyError) -> None:
        kind = error.code or type(error).__name__
        self.store.record_failure(account_fp, kind)
        if isinstance(error, AuthenticationFailed) and is_pool_credential(credential):
            # A client's own token is the client's to judge: it may send it again after a
            # fix upstream, and it gets Kimi's own answer each time.
            self.store.mark_dead(account_fp, kind)
            log.warning("account %s: Kimi refused its tokens; marked dead", account_fp)
        elif error.code in COOLING_CODES:
            seconds = self._cooldown(account_fp, error.retry_after)
            self.store.mark_cooling(account_fp, time.time() + seconds, kind)
            log.warning("account %s: %s; cooling down for %.1f s", account_fp, kind, seconds)

    def _cooldown(self, account_fp: str, retry_after: float | None) -> float:
        if retry_after is not None and retry_after > 0:
            return min(float(retry_after), self.max_cooldown)
        streak = int(self.store.kv_get(BACKOFF_NAMESPACE, account_fp) or 0)
        self.store.kv_set(BACKOFF_NAMESPACE, account_fp, streak + 1, ttl=self.max_cooldown * 2)
        base = min(2.0**streak, self.max_cooldown)
        return base * random.uniform(0.75, 1.25)
