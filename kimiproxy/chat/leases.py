"""One answer at a time per Kimi account.

Kimi streams one answer per account at a time and refuses a second with
``chat.user_stream_pushing``. Rather than pass that refusal on, the proxy leases an account to a
request for the length of its upstream answer: a request whose accounts are all busy waits (up
to ``ACCOUNT_WAIT`` seconds) for one to come free. Leases are per worker process; a refusal that
still comes from Kimi (another worker, the user's own browser) is retried by the pipeline.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class AccountLeases:
    """The accounts now answering in this process, with a wait for one to come free.

    ``threading`` primitives become cooperative under gunicorn's gevent worker, so a waiting
    request parks its greenlet, not the worker.
    """

    def __init__(self, per_account: int = 1):
        self.per_account = per_account  # 0: no limit
        self._in_use: dict[str, int] = {}
        self._changed = threading.Condition()

    def busy(self, credential: str) -> bool:
        return bool(self.per_account) and self._in_use.get(credential, 0) >= self.per_account

    def acquire(
        self, candidates: list[str], choose: Callable[[set[str]], str | None], deadline: float
    ) -> str | None:
        """Lease the account ``choose(busy)`` picks among ``candidates``, waiting while it picks
        none but some candidates are busy. ``None`` when nothing can be chosen in time."""
        with self._changed:
            while True:
                busy = {c for c in candidates if self.busy(c)}
                chosen = choose(busy)
                # A choice outside the free candidates (a plugin ignoring ``excluded``) is none.
                if chosen in candidates and chosen not in busy:
                    self._in_use[chosen] = self._in_use.get(chosen, 0) + 1
                    return chosen
                remaining = deadline - time.monotonic()
                if not busy or remaining <= 0:
                    return None
                self._changed.wait(remaining)

    def release(self, credential: str) -> None:
        with self._changed:
            left = self._in_use.get(credential, 0) - 1
            if left > 0:
                self._in_use[credential] = left
            else:
                self._in_use.pop(credential, None)
            self._changed.notify_all()
