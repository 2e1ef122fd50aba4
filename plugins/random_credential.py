"""Credential selection: a random one of the caller's Kimi tokens that has not failed yet."""

from __future__ import annotations

import random

from kimiproxy import hookimpl


@hookimpl(trylast=True)
def kimiproxy_select_credential(credentials: list[str], excluded: set[str]) -> str | None:
    """Answers last: a random usable token, so other selection plugins decide first."""
    usable = [c for c in credentials if c not in excluded]
    return random.choice(usable) if usable else None
