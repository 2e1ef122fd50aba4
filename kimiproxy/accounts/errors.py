"""The account store's errors. None of them ever carries a token: messages name the store and
what went wrong, never a stored value."""

from __future__ import annotations

from kimiproxy.errors import KimiProxyError


class StoreError(KimiProxyError):
    """The account store failed in a way retrying will not fix (500)."""

    status = 500
    error_type = "server_error"
    code = "store_error"


class StoreUnavailable(StoreError):
    """The account store cannot be reached now: a lost Redis connection, a locked or
    unreadable SQLite file (503). Calls work again once the backend is back."""

    status = 503
    code = "store_unavailable"


class SealedTokenError(StoreError):
    """A stored token cannot be decrypted: the secret key is missing or is not the one the
    token was stored with."""

    code = "store_secret_key"
