"""The ``round-robin`` strategy: the request's accounts in turn, in the order they are listed
(the pool's oldest account first), skipping those failed, unhealthy or busy.

The turn is kept per worker process, next to the app's leases: each worker goes round the
accounts on its own, so with several workers the order interleaves, and every account still
gets its share."""

from __future__ import annotations

import threading
import weakref
from typing import TYPE_CHECKING

from kimiproxy import hookimpl

if TYPE_CHECKING:
    from kimiproxy.chat.context import ChatContext
    from kimiproxy.chat.leases import AccountLeases

STRATEGY = "round-robin"
# The credential chosen last, per app (its leases object): nothing outlives the app.
_last_chosen: weakref.WeakKeyDictionary[object, str] = weakref.WeakKeyDictionary()
_guard = threading.Lock()


def next_in_turn(credentials: list[str], excluded: set[str], last: str | None) -> str | None:
    """The first usable credential after ``last`` in ``credentials``, going round."""
    start = credentials.index(last) + 1 if last in credentials else 0
    for credential in credentials[start:] + credentials[:start]:
        if credential not in excluded:
            return credential
    return None


@hookimpl
def kimiproxy_selection_strategies() -> list[str]:
    return [STRATEGY]


@hookimpl(trylast=True)
def kimiproxy_select_credential(
    credentials: list[str], excluded: set[str], context: ChatContext, leases: AccountLeases
) -> str | None:
    if context.settings.strategy != STRATEGY:
        return None
    with _guard:
        chosen = next_in_turn(credentials, excluded, _last_chosen.get(leases))
        if chosen is not None:
            _last_chosen[leases] = chosen
    return chosen
