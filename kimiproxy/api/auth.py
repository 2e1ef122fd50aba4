"""Which Kimi accounts a chat request uses: the caller's own tokens (``Bearer T1,T2``), or,
when the operator set client keys, every account of the server-held pool (the key was checked
before the view ran, :mod:`kimiproxy.api.access`); the chat core skips the unhealthy ones."""

from __future__ import annotations

from kimiproxy.accounts import POOL
from kimiproxy.accounts.directory import is_pool_credential, pool_credential
from kimiproxy.api.access import client_key_checked, presented_key
from kimiproxy.api.state import ProxyState
from kimiproxy.errors import AuthenticationFailed, UpstreamUnavailable
from kimiproxy.settings import TOKEN_SHAPE


def request_credentials(state: ProxyState) -> list[str]:
    if state.settings.server_held_accounts:
        if not client_key_checked():  # a route registered without the app's access check
            raise AuthenticationFailed("Incorrect API key provided")
        accounts = state.store.list_accounts(source=POOL)
        if not accounts:
            raise UpstreamUnavailable(
                "no Kimi account in the server's pool: add tokens with KIMIPROXY_KIMI_TOKENS, "
                "KIMIPROXY_TOKENS_FILE or POST /v1/accounts",
                code="no_usable_account",
            )
        return [pool_credential(account.fingerprint) for account in accounts]
    value = presented_key(
        "Missing credentials: send 'Authorization: Bearer <Kimi refresh token or access "
        "token>' (several comma-separated)"
    )
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
