"""The keys clients and operators present, checked in constant time.

Client keys (``KIMIPROXY_API_KEYS`` and ``KIMIPROXY_API_KEYS_FILE``) open the API; operator keys
(``KIMIPROXY_OPERATOR_KEYS``) open the account endpoints. A presented key is compared with every
key, digest against digest, so neither which key nearly matched nor how long the keys are shows
in the time an answer takes.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
from collections.abc import Iterable


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode("utf-8")).digest()


class KeySet:
    """A set of keys that can be swapped whole (when its file changes) while requests check it."""

    def __init__(self, keys: Iterable[str] = ()):
        self._guard = threading.Lock()
        self._digests: tuple[bytes, ...] = ()
        self.replace(keys)

    def replace(self, keys: Iterable[str]) -> None:
        digests = tuple(dict.fromkeys(_digest(key) for key in keys))
        with self._guard:
            self._digests = digests

    def __len__(self) -> int:
        return len(self._digests)

    def __repr__(self) -> str:  # keys are secrets
        return f"KeySet(<{len(self)} hidden>)"

    def matches(self, presented: str) -> bool:
        """Whether ``presented`` is one of the keys; every key is compared."""
        digest = _digest(presented)
        matched = False
        for known in self._digests:
            matched |= hmac.compare_digest(digest, known)
        return matched
