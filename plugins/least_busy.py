"""The ``least-busy`` strategy: the usable account streaming the fewest answers right now
across the deployment (``leases.in_flight``), then the one this process used least recently
(``leases.last_started``), then the first listed."""

from __future__ import annotations

from typing import TYPE_CHECKING

from kimiproxy import hookimpl

if TYPE_CHECKING:
    from kimiproxy.chat.context import ChatContext
    from kimiproxy.chat.leases import AccountLeases

STRATEGY = "least-busy"


@hookimpl
def kimiproxy_selection_strategies() -> list[str]:
    return [STRATEGY]


@hookimpl(trylast=True)
def kimiproxy_select_credential(
    credentials: list[str], excluded: set[str], context: ChatContext, leases: AccountLeases
) -> str | None:
    if context.settings.strategy != STRATEGY:
        return None
    usable = [c for c in credentials if c not in excluded]
    if not usable:
        return None
    order = {credential: index for index, credential in enumerate(usable)}
    return min(usable, key=lambda c: (leases.in_flight(c), leases.last_started(c), order[c]))
