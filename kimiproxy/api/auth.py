"""Which Kimi tokens a request uses: the caller's own (``Bearer T1,T2``), or, when the operator
set ``KIMIPROXY_API_KEYS``, the server's ``KIMIPROXY_KIMI_TOKENS`` for callers with a valid key."""

from __future__ import annotations

import hmac

from flask import request

from kimiproxy.accounts.directory import is_pool_credential
from kimiproxy.errors import AuthenticationFailed
from kimiproxy.settings import TOKEN_SHAPE, Settings


def bearer_value() -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise AuthenticationFailed(
            "Missing credentials: send 'Authorization: Bearer <Kimi refresh token or access "
            "token>' (several comma-separated)",
            code="missing_api_key",
        )
    return value.strip()


def request_credentials(settings: Settings) -> list[str]:
    value = bearer_value()
    if settings.api_keys:
        presented = value.encode()
        # Compare with every key, so the time taken does not tell which one nearly matched.
        matches = [hmac.compare_digest(presented, key.encode()) for key in settings.api_keys]
        if not any(matches):
            raise AuthenticationFailed("Incorrect API key provided")
        return list(settings.kimi_tokens)
    credentials = [part.strip() for part in value.split(",") if part.strip()]
    if not credentials:
        raise AuthenticationFailed(
            "Missing credentials: the bearer value holds no Kimi token", code="missing_api_key"
        )
    if not all(TOKEN_SHAPE.match(c) for c in credentials):
        raise AuthenticationFailed(
            "Malformed credentials: a Kimi token is printable ASCII without spaces"
        )
    if any(is_pool_credential(c) for c in credentials):
        # Server-held accounts are named this way inside the proxy; only an API key opens them.
        raise AuthenticationFailed("Malformed credentials: that is not a Kimi token")
    return credentials
