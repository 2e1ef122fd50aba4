"""Account rotation: which of a request's Kimi accounts answers it, and what happens when one
fails before any output.

Each attempt leases an account (Kimi streams one answer per account at a time), chosen by the
``kimiproxy_select_credential`` hook among the accounts neither failed for this request nor busy.
A failure before output is retried on another account when that could help (throttling, a
rejected token, a conversation that lives in another account), or on the same account after a
short pause when Kimi says it is still busy with another answer and there is no other account.
The storage of leases is :class:`~kimiproxy.chat.leases.AccountLeases`; the policy lives here.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from kimiproxy.errors import AuthenticationFailed, KimiProxyError, NotFound, RateLimited

if TYPE_CHECKING:
    import pluggy

    from kimiproxy.chat.context import ChatContext
    from kimiproxy.chat.leases import AccountLeases

log = logging.getLogger(__name__)
BUSY_RETRY = 0.5  # seconds between asks while Kimi says the only account is busy
T = TypeVar("T")


def worth_another_account(error: KimiProxyError, continues_conversation: bool) -> bool:
    """Whether trying another of the request's accounts could help, before any output."""
    if isinstance(error, NotFound) and continues_conversation:
        return True  # the conversation may belong to another of the caller's accounts
    return isinstance(error, (RateLimited, AuthenticationFailed))


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
        context: ChatContext,
        wait_seconds: float,
    ):
        self.pm = pm
        self.leases = leases
        self.context = context
        self.wait_seconds = wait_seconds
        self._leased: str | None = None

    def run(self, attempt: Callable[[], T]) -> T:
        context = self.context
        excluded: set[str] = set()
        deadline = time.monotonic() + self.wait_seconds
        while True:
            context.credential = self._lease(excluded, deadline)
            try:
                return attempt()
            except KimiProxyError as error:
                self.release()
                if self._retry_later(error, excluded, deadline):
                    continue
                if not self._worth_another(error, excluded | {context.credential}):
                    raise
                excluded.add(context.credential)
                log.warning(
                    "request %s: account failed before output (%s), trying another",
                    context.request_id,
                    error.code,
                )

    def release(self) -> None:
        """Give the leased account back (idempotent)."""
        leased, self._leased = self._leased, None
        if leased is not None:
            self.leases.release(leased)

    def _lease(self, excluded: set[str], deadline: float) -> str:
        """An account for this attempt, chosen by the credential hook among those neither failed
        nor answering another request, waiting for one to come free if all are busy."""
        context = self.context
        candidates = [c for c in context.credentials if c not in excluded]

        def choose(busy: set[str]) -> str | None:
            return self.pm.hook.kimiproxy_select_credential(
                credentials=list(context.credentials),
                excluded=excluded | busy,
                request=context.request,
                context=context,
            )

        credential = self.leases.acquire(candidates, choose, deadline) if candidates else None
        if credential is not None:
            self._leased = credential
            return credential
        if any(self.leases.busy(c) for c in candidates):
            raise RateLimited(
                "every Kimi account given is busy with another answer; try again shortly",
                code="account_busy",
                retry_after=5,
            )
        raise AuthenticationFailed("none of the Kimi tokens given could be used")

    def _retry_later(self, error: KimiProxyError, excluded: set[str], deadline: float) -> bool:
        """Kimi says the account is still streaming (another worker, the user's browser, or an
        answer it has not noticed was abandoned): with no other account to try, wait a little
        and ask again, until the account wait runs out."""
        context = self.context
        others = [c for c in context.credentials if c not in excluded and c != context.credential]
        if error.code != "account_busy" or others or time.monotonic() + BUSY_RETRY >= deadline:
            return False
        time.sleep(BUSY_RETRY)
        return True

    def _worth_another(self, error: KimiProxyError, excluded: set[str]) -> bool:
        if not any(c not in excluded for c in self.context.credentials):
            return False
        return worth_another_account(error, bool(self.context.request.conversation_id))
