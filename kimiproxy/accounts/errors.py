"""The account store's errors. None of them ever carries a token: messages name the store and
what went wrong, never a stored value. What went wrong (``detail``: a path, a database error)
is for the log and the operator; a client is told only that the store failed."""

from __future__ import annotations

from kimiproxy.errors import InternalError


class StoreError(InternalError):
    """The account store failed in a way retrying will not fix (500)."""

    code = "store_error"
    public_message = "the proxy's account store failed; the operator's log says why"

    def __init__(self, detail: str, **kwargs):
        super().__init__(self.public_message, **kwargs)
        self.detail = detail

    def __str__(self) -> str:
        return self.detail


class StoreUnavailable(StoreError):
    """The account store cannot be reached now: a lost Redis connection, a locked or
    unreadable SQLite file (503). Calls work again once the backend is back."""

    status = 503
    code = "store_unavailable"
    public_message = "the proxy's account store cannot be reached; try again shortly"


class SealedTokenError(StoreError):
    """A stored token cannot be decrypted: the secret key is missing or is not the one the
    token was stored with."""

    code = "store_secret_key"
    public_message = "the proxy cannot read its stored Kimi tokens; the operator's log says why"
