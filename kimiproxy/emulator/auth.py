"""The caller's token and account, or the right 401 for each protocol."""

from __future__ import annotations

from flask import abort, request

from kimiproxy.emulator.errors import connect_unauthenticated, invalid_token
from kimiproxy.emulator.tokens import TokenError, check_access_token


def bearer_token() -> str | None:
    """The token from ``Authorization: Bearer``, else the ``kimi-auth`` cookie."""
    header = request.headers.get("Authorization", "")
    if header[:7].lower() == "bearer ":
        return header[7:].strip() or None
    return request.cookies.get("kimi-auth") or None


def rest_account() -> str:
    """The account of a ``rest`` call; aborts with ``auth.token.invalid`` otherwise."""
    try:
        return check_access_token(bearer_token())
    except TokenError:
        abort(invalid_token())


def connect_account() -> str:
    """The account of a ``connect`` call; aborts with a plain-text 401 otherwise."""
    try:
        return check_access_token(bearer_token())
    except TokenError as exc:
        abort(connect_unauthenticated(exc.expired))
