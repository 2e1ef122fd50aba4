"""Exchanging a refresh token at Kimi. The rotating ``POST /api/account.gateway.v1.AuthService/
RefreshToken`` on the auth host comes first; an account for which it answers 404 uses the older
``GET /api/auth/token/refresh`` on the upstream, and which one each account needs is remembered
in the account store, so a token is never sent to both. See ``docs/kimi-protocol.md``,
"Access tokens and their refresh".

The answers carry new tokens: :class:`Refreshed` never shows them in its repr, and no error
message quotes the refresh token given.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

import requests

from kimiproxy.accounts import AccountStore
from kimiproxy.errors import AuthenticationFailed, KimiProxyError, UpstreamError
from kimiproxy.upstream.failures import error_from_response, map_failure

log = logging.getLogger(__name__)

ROTATING_PATH = "/api/account.gateway.v1.AuthService/RefreshToken"
LEGACY_PATH = "/api/auth/token/refresh"
# The store's key/value namespace: account fingerprint → ROTATING or LEGACY.
ENDPOINT_NAMESPACE = "refresh_endpoint"
ROTATING, LEGACY = "rotating", "legacy"


@dataclass(frozen=True)
class Refreshed:
    """What a refresh handed out: the new access token, and the refresh token to use next time
    (``None`` when Kimi did not send one: keep the one given)."""

    access_token: str = field(repr=False)
    refresh_token: str | None = field(repr=False)
    endpoint: str


class EndpointMissing(Exception):
    """The rotating endpoint answered 404: this account refreshes through the older one."""


def _refused(error: KimiProxyError) -> AuthenticationFailed:
    return AuthenticationFailed(error.message.replace("the token", "the refresh token", 1))


def _answer(response: requests.Response, secrets: tuple[str, ...], what: str) -> dict:
    """The JSON object of a refresh answer, or the error it stands for."""
    try:
        if response.status_code >= 400:
            error = error_from_response(response, secrets)
            # 401, or auth.token.invalid / unauthenticated under any status.
            if isinstance(error, AuthenticationFailed):
                raise _refused(error) from None
            raise error
        try:
            body = response.json()
        except ValueError:
            raise UpstreamError(f"Kimi's answer to {what} was not JSON") from None
    finally:
        response.close()
    if not isinstance(body, dict):
        raise UpstreamError(f"Kimi's answer to {what} was not a JSON object")
    kind = body.get("error_type") or body.get("code")
    if kind in ("auth.token.invalid", "unauthenticated"):
        error = map_failure(kind=kind, message=body.get("message"), secrets=secrets)
        raise _refused(error)
    return body


def _token(body: dict, *names: str) -> str | None:
    for name in names:
        value = body.get(name)
        if isinstance(value, str) and value:
            return value
    return None


def rotating_refresh(
    session: requests.Session, auth_url: str, refresh_token: str, timeout: tuple[float, float]
) -> Refreshed:
    """``POST <auth>/api/account.gateway.v1.AuthService/RefreshToken`` with the plain JSON body
    ``{"refresh_token"}`` (no envelope, no Authorization) → ``{"accessToken","refreshToken"}``,
    both new. :class:`EndpointMissing` on a 404."""
    try:
        response = session.post(
            auth_url + ROTATING_PATH, json={"refresh_token": refresh_token}, timeout=timeout
        )
    except requests.RequestException as exc:
        raise map_failure(exception=exc, read_timeout=timeout[1]) from None
    if response.status_code == 404:
        response.close()
        raise EndpointMissing(ROTATING_PATH)
    body = _answer(response, (refresh_token,), "the token refresh")
    access = _token(body, "accessToken", "access_token")
    if access is None:
        raise UpstreamError("Kimi's token refresh answer carried no access token")
    return Refreshed(access, _token(body, "refreshToken", "refresh_token"), ROTATING)


def legacy_refresh(
    session: requests.Session, base_url: str, refresh_token: str, timeout: tuple[float, float]
) -> Refreshed:
    """``GET <upstream>/api/auth/token/refresh`` with ``Authorization: Bearer <refresh>`` →
    ``{"access_token"}`` (some answers say ``token``), with a ``refresh_token`` that may be new."""
    try:
        response = session.get(
            base_url + LEGACY_PATH,
            headers={"Authorization": f"Bearer {refresh_token}"},
            timeout=timeout,
        )
    except requests.RequestException as exc:
        raise map_failure(exception=exc, read_timeout=timeout[1]) from None
    body = _answer(response, (refresh_token,), "the token refresh")
    access = _token(body, "access_token", "token")
    if access is None:
        raise UpstreamError("Kimi's token refresh answer carried no access token")
    return Refreshed(access, _token(body, "refresh_token", "refreshToken"), LEGACY)


class RefreshCalls:
    """The refresh of one account's token through the endpoint that account needs."""

    def __init__(
        self,
        session: requests.Session,
        store: AccountStore,
        *,
        auth_url: str,
        base_url: str,
        timeout: tuple[float, float],
    ):
        self.session = session
        self.store = store
        self.auth_url = auth_url
        self.base_url = base_url
        self.timeout = timeout

    def __call__(
        self,
        account_fp: str,
        refresh_token: str,
        before_fallback: Callable[[], object] | None = None,
    ) -> Refreshed:
        """Refresh ``refresh_token`` of account ``account_fp``. ``before_fallback`` runs between
        a 404 from the rotating endpoint and the call to the older one (to extend a lock)."""
        known = self.store.kv_get(ENDPOINT_NAMESPACE, account_fp)
        if known != LEGACY:
            try:
                refreshed = rotating_refresh(
                    self.session, self.auth_url, refresh_token, self.timeout
                )
            except EndpointMissing:
                log.info(
                    "account %s: no rotating token refresh (404); using %s from now on",
                    account_fp,
                    LEGACY_PATH,
                )
                self.store.kv_set(ENDPOINT_NAMESPACE, account_fp, LEGACY)
                if before_fallback is not None:
                    before_fallback()
            else:
                if known != ROTATING:
                    self.store.kv_set(ENDPOINT_NAMESPACE, account_fp, ROTATING)
                return refreshed
        return legacy_refresh(self.session, self.base_url, refresh_token, self.timeout)
