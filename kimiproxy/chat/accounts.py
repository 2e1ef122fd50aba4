"""Account rotation: which of a request's Kimi accounts answers it, and what happens when one
fails before any output.

Each attempt leases an account (Kimi streams one answer per account at a time), chosen by the
``kimiproxy_select_credential`` hook among the accounts that are healthy, not yet failed for
this request and not busy. A failure before output is retried on another account when that
could help (a rejected token, throttling, Kimi failing or unreachable for that account, a
conversation that lives in another account) — at most ``KIMIPROXY_MAX_ATTEMPTS`` accounts and
within ``KIMIPROXY_ACCOUNT_WAIT`` seconds — or on the same account after a short pause when
Kimi says it is still busy with another answer and there is no other account. Each outcome
updates the account's health (:mod:`kimiproxy.chat.health`).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from typing import TYPE_CHECKING, TypeVar

from kimiproxy.accounts.directory import is_pool_credential
from kimiproxy.errors import (
    AuthenticationFailed,
    KimiProxyError,
    NotFound,
    RateLimited,
    UpstreamError,
    UpstreamUnavailable,
)

if TYPE_CHECKING:
    import pluggy

    from kimiproxy.chat.context import ChatContext
    from kimiproxy.chat.health import AccountHealth
    from kimiproxy.chat.leases import AccountLeases, Lease

log = logging.getLogger(__name__)
BUSY_RETRY = 0.5  # seconds between asks while Kimi says the only account is busy
T = TypeVar("T")


def worth_another_account(error: KimiProxyError, continues_conversation: bool) -> bool:
    """Whether trying another of the request's accounts could help, before any output."""
    if isinstance(error, NotFound) and continues_conversation:
        return True  # the conversation may belong to another of the caller's accounts
    if isinstance(error, (RateLimited, AuthenticationFailed)):
        return True
    # Kimi failing (5xx), unreachable or too slow for this account: another may get through.
    return isinstance(error, UpstreamError) and error.status >= 500


class AccountRotation:
    """The accounts one request may use, and the attempts made on them.

    ``run(attempt)`` leases an account, sets ``context.credential`` and calls ``attempt()``;
    it returns what the first successful attempt returns, with that account still leased until
    :meth:`release`, or raises the error that ended the retries.
    """

    def __init__(
        self,
        pm: pluggy.PluginManager,
        leases: AccountLeases,
        health: AccountHealth,
        context: ChatContext,
        *,
        wait_seconds: float,
        max_attempts: int,
        interruptible: Callable[[], AbstractContextManager] = nullcontext,
    ):
        self.interruptible = interruptible
        self.pm = pm
        self.leases = leases
        self.health = health
        self.context = context
        self.wait_seconds = wait_seconds
        self.max_attempts = max_attempts
        self._lease: Lease | None = None

    def run(self, attempt: Callable[[], T]) -> T:
        context = self.context
        excluded: set[str] = set()
        deadline = time.monotonic() + self.wait_seconds
        attempts = 0
        while True:
            context.credential = self._lease_one(excluded, deadline)
            attempts += 1
            try:
                result = attempt()
            except KimiProxyError as error:
                self.release()
                self.health.failed(context.credential, error)
                if self._retry_later(error, excluded, deadline):
                    continue
                out_of_time = time.monotonic() >= deadline
                if (
                    attempts >= self.max_attempts
                    or out_of_time
                    or not self._worth_another(error, excluded | {context.credential})
                ):
                    raise
                excluded.add(context.credential)
                log.warning(
                    "request %s: account failed before output (%s), trying another",
                    context.request_id,
                    error.code,
                )
                continue
            self.health.succeeded(context.credential)
            return result

    def release(self) -> None:
        """Give the leased account back (idempotent)."""
        lease, self._lease = self._lease, None
        if lease is not None:
            lease.release()

    def _lease_one(self, excluded: set[str], deadline: float) -> str:
        """An account for this attempt, chosen by the credential hook among those healthy,
        neither failed nor answering another request, waiting for one to come free if all
        are busy."""
        context = self.context
        untried = [c for c in context.credentials if c not in excluded]
        candidates = [c for c in untried if self.health.usable(c)]

        def choose(busy: set[str]) -> str | None:
            return self.pm.hook.kimiproxy_select_credential(
                credentials=list(context.credentials),
                excluded=excluded | busy | (set(untried) - set(candidates)),
                request=context.request,
                context=context,
                leases=self.leases,
            )

        turned_away: set[str] = set()
        lease = (
            self.leases.acquire(candidates, choose, deadline, self.interruptible, turned_away)
            if candidates
            else None
        )
        if lease is not None:
            self._lease = lease
            return lease.credential
        if turned_away or any(self.leases.busy(c) for c in candidates):
            raise RateLimited(
                "every Kimi account given is busy with another answer; try again shortly",
                code="account_busy",
                retry_after=5,
            )
        cooling_until = self.health.cooling_until(untried)
        if cooling_until is not None:
            wait = max(1, math.ceil(cooling_until - time.time()))
            raise RateLimited(
                "Kimi is throttling every account this request may use; try again later",
                retry_after=wait,
            )
        if untried and all(is_pool_credential(c) for c in untried):
            raise UpstreamUnavailable(
                "no usable Kimi account: Kimi refused the tokens of every account",
                code="no_usable_account",
            )
        raise AuthenticationFailed("none of the Kimi tokens given could be used")

    def _retry_later(self, error: KimiProxyError, excluded: set[str], deadline: float) -> bool:
        """Kimi says the account is still streaming (the user's browser, another tool, or an
        answer it has not noticed was abandoned): with no other account to try, wait a little
        and ask again, until the account wait runs out."""
        context = self.context
        others = [c for c in context.credentials if c not in excluded and c != context.credential]
        if error.code != "account_busy" or others or time.monotonic() + BUSY_RETRY >= deadline:
            return False
        with self.interruptible():
            time.sleep(BUSY_RETRY)
        return True

    def _worth_another(self, error: KimiProxyError, excluded: set[str]) -> bool:
        if not any(c not in excluded for c in self.context.credentials):
            return False
        return worth_another_account(error, bool(self.context.request.conversation_id))
