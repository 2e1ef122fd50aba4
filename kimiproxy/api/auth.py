"""Which Kimi tokens a request uses: the caller's own (``Bearer T1,T2``), or, when the operator
set ``KIMIPROXY_API_KEYS``, the server's ``KIMIPROXY_KIMI_TOKENS`` for callers with a valid key."""

from __future__ import annotations

import hmac
import re

from flask import request

from kimiproxy.errors import AuthenticationFailed
from kimiproxy.settings import split_list

# Tokens travel in HTTP headers: visible ASCII only.
TOKEN_SHAPE = re.compile(r"^[\x21-\x7e]{1,8192}$")


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


def request_credentials(config: dict) -> list[str]:
    value = bearer_value()
    api_keys = split_list(config.get("API_KEYS"))
    if api_keys:
        if not any(hmac.compare_digest(value.encode(), key.encode()) for key in api_keys):
            raise AuthenticationFailed("Incorrect API key provided")
        return split_list(config.get("KIMI_TOKENS"))
    credentials = split_list(value)
    if not credentials:
        raise AuthenticationFailed(
            "Missing credentials: the bearer value holds no Kimi token", code="missing_api_key"
        )
    if not all(TOKEN_SHAPE.match(c) for c in credentials):
        raise AuthenticationFailed(
            "Malformed credentials: a Kimi token is printable ASCII without spaces"
        )
    return credentials


def check_auth_settings(config: dict) -> None:
    """Refuse to start with server-side Kimi tokens that any caller could use without a key."""
    if split_list(config.get("KIMI_TOKENS")) and not split_list(config.get("API_KEYS")):
        raise ValueError(
            "KIMIPROXY_KIMI_TOKENS needs KIMIPROXY_API_KEYS, or anyone who can reach "
            "the proxy would use those Kimi accounts"
        )
    if split_list(config.get("API_KEYS")) and not split_list(config.get("KIMI_TOKENS")):
        raise ValueError("KIMIPROXY_API_KEYS needs KIMIPROXY_KIMI_TOKENS: the Kimi accounts to use")
