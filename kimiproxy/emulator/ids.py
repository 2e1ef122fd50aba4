"""Random identifiers shaped like Kimi's (20 lowercase base32 characters) and timestamps."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

# The base32 "hex" alphabet (0-9, a-v) that xid-style Kimi ids use.
_ALPHABET = "0123456789abcdefghijklmnopqrstuv"


def new_id(prefix: str, length: int = 20) -> str:
    """A random id of ``length`` characters that starts with ``prefix``."""
    return prefix + "".join(secrets.choice(_ALPHABET) for _ in range(length - len(prefix)))


def now_iso() -> str:
    """The current UTC time in RFC 3339 form, as Connect timestamps are written."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def today() -> str:
    """The current UTC date, used in object names the way Kimi's storage paths use it."""
    return datetime.now(UTC).strftime("%Y-%m-%d")
