"""The ``random`` strategy (the default): a random one of the request's accounts that is
neither failed for it, unhealthy nor busy."""

from __future__ import annotations

import random
from typing import TYPE_CHECKING

from kimiproxy import hookimpl

if TYPE_CHECKING:
    from kimiproxy.chat.context import ChatContext

STRATEGY = "random"


@hookimpl
def kimiproxy_selection_strategies() -> list[str]:
    return [STRATEGY]


@hookimpl(trylast=True)
def kimiproxy_select_credential(
    credentials: list[str], excluded: set[str], context: ChatContext
) -> str | None:
    """Answers last, so other selection plugins decide first."""
    if context.settings.strategy != STRATEGY:
        return None
    usable = [c for c in credentials if c not in excluded]
    return random.choice(usable) if usable else None
