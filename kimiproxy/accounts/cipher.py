"""Tokens at rest: sealed with Fernet when a secret key is configured, stored as they are
otherwise (the SQLite file is then the only protection, hence its 0600 mode).

The secret (``KIMIPROXY_SECRET_KEY``) may be any passphrase: the Fernet key is derived from it
with PBKDF2-HMAC-SHA256. Every process and instance given the same secret derives the same key,
so they can all read what any of them wrote.
"""

from __future__ import annotations

import base64
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC

from kimiproxy.accounts.errors import SealedTokenError

SEALED_PREFIX = "fernet:"
# A fixed, public salt: the derivation must give every instance the same key. A long random
# secret makes the salt's job (slowing a dictionary attack) moot.
_SALT = b"kimiproxy.accounts.tokens.v1"
_ITERATIONS = 200_000


@lru_cache(maxsize=8)
def derive_fernet_key(secret: str) -> bytes:
    """The urlsafe-base64 Fernet key derived from ``secret`` (cached: the KDF is slow on
    purpose)."""
    kdf = PBKDF2HMAC(algorithm=hashes.SHA256(), length=32, salt=_SALT, iterations=_ITERATIONS)
    return base64.urlsafe_b64encode(kdf.derive(secret.encode("utf-8")))


class TokenCipher:
    """Seals and opens the tokens a store writes and reads."""

    def __init__(self, secret_key: str | None = None):
        self._fernet = Fernet(derive_fernet_key(secret_key)) if secret_key else None

    @property
    def encrypts(self) -> bool:
        return self._fernet is not None

    def __repr__(self) -> str:
        return f"TokenCipher(encrypts={self.encrypts})"

    def seal(self, token: str | None) -> str | None:
        if token is None or self._fernet is None:
            return token
        return SEALED_PREFIX + self._fernet.encrypt(token.encode("utf-8")).decode("ascii")

    def open(self, stored: str | None) -> str | None:
        """The token ``stored`` holds. A token stored plain is read as it is, so a secret key
        can be introduced later: the next write seals it."""
        if stored is None or not stored.startswith(SEALED_PREFIX):
            return stored
        if self._fernet is None:
            raise SealedTokenError(
                "the account store holds encrypted tokens: set KIMIPROXY_SECRET_KEY to the key "
                "they were stored with"
            )
        try:
            return self._fernet.decrypt(stored[len(SEALED_PREFIX) :].encode("ascii")).decode()
        except (InvalidToken, ValueError):
            raise SealedTokenError(
                "a stored token cannot be decrypted: KIMIPROXY_SECRET_KEY is not the key it was "
                "stored with"
            ) from None
