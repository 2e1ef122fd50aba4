"""What the store holds about one Kimi account, and the fingerprint that names it in public."""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, fields

READY, COOLING, DEAD = "ready", "cooling", "dead"
STATES = (READY, COOLING, DEAD)
# Server-held accounts (configured tokens) and client-held ones (tokens a caller sends).
POOL, CLIENT = "pool", "client"
SOURCES = (POOL, CLIENT)

_SECRET_FIELDS = frozenset({"refresh_token", "access_token"})


def fingerprint(token: str) -> str:
    """The short public id of a token as first imported: 12 hex digits of its SHA-256.

    An account keeps this id when its tokens rotate, so logs and the API can name it."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()[:12]


@dataclass(frozen=True)
class Account:
    """One Kimi account. Times are Unix epoch seconds; ``None`` where nothing is known.

    ``repr`` (and so ``str`` and log lines) shows whether a token is set, never the token.
    """

    fingerprint: str
    source: str = POOL
    label: str = ""
    refresh_token: str | None = None
    access_token: str | None = None
    access_expires_at: float | None = None
    state: str = READY
    cooldown_until: float | None = None
    last_error_kind: str | None = None
    last_error_at: float | None = None
    requests: int = 0
    failures: int = 0
    quota: dict | None = None
    created_at: float = 0.0
    updated_at: float = 0.0

    def __repr__(self) -> str:
        parts = []
        for field in fields(self):
            value = getattr(self, field.name)
            if field.name in _SECRET_FIELDS:
                parts.append(f"{field.name}={'<hidden>' if value else None}")
            else:
                parts.append(f"{field.name}={value!r}")
        return f"Account({', '.join(parts)})"

    __str__ = __repr__

    def usable(self, now: float | None = None) -> bool:
        """Ready, or cooling with its cool-down over."""
        if self.state == READY:
            return True
        if self.state == COOLING:
            now = time.time() if now is None else now
            return self.cooldown_until is None or self.cooldown_until <= now
        return False

    def access_valid(self, margin: float = 0.0, now: float | None = None) -> bool:
        """Whether the access token is set and lives at least ``margin`` more seconds."""
        if not self.access_token or self.access_expires_at is None:
            return False
        now = time.time() if now is None else now
        return self.access_expires_at - margin > now
