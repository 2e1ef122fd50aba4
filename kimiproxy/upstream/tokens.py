"""Kimi credentials: telling an access JWT from a refresh token, turning a refresh token into an
access token, and caching access tokens so that concurrent requests of one account share one
refresh. See ``docs/kimi-protocol.md``, "Access tokens and their refresh" and "Auth and refresh".

Tokens never reach a log line or an exception message; :func:`fingerprint` is what logs show.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import requests

from kimiproxy.errors import AuthenticationFailed, UpstreamError
from kimiproxy.upstream.failures import (
    error_fields,
    error_from_response,
    is_auth_failure,
    map_failure,
)

log = logging.getLogger(__name__)

REFRESH_PATH = "/api/auth/token/refresh"
# Refresh this long before a JWT's ``exp`` so a token never expires in the middle of a request.
REFRESH_MARGIN = 60.0


def fingerprint(token: str) -> str:
    """A short, stable, irreversible name for a token, safe to log."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()[:10]


def jwt_claims(token: str) -> dict | None:
    """The payload of a JWT, decoded without verifying its signature; ``None`` if ``token`` is
    not a JWT. We only read claims to decide how to use the token; Kimi verifies it."""
    parts = token.split(".")
    if len(parts) != 3 or not parts[1]:
        return None
    payload = parts[1] + "=" * (-len(parts[1]) % 4)
    try:
        claims = json.loads(base64.urlsafe_b64decode(payload.encode("ascii")))
    except (ValueError, binascii.Error, UnicodeError):
        return None
    return claims if isinstance(claims, dict) else None


def is_access_token(token: str) -> bool:
    """An access JWT (``app_id == "kimi"`` and ``typ == "access"``) is used directly; any other
    token is a refresh token."""
    claims = jwt_claims(token)
    return bool(claims) and claims.get("app_id") == "kimi" and claims.get("typ") == "access"


def token_expiry(token: str) -> float | None:
    """The JWT ``exp`` claim as a Unix time, if there is one."""
    claims = jwt_claims(token) or {}
    exp = claims.get("exp")
    return float(exp) if isinstance(exp, (int, float)) else None


def refresh_access_token(
    session: requests.Session, base_url: str, refresh_token: str, timeout: tuple[float, float]
) -> str:
    """``GET /api/auth/token/refresh`` with the refresh token → the access token.

    The answer carries ``access_token`` (some answers say ``token``). A new ``refresh_token`` in
    the answer is ignored: the caller's configured token stays the key we cache under.
    """
    try:
        response = session.get(
            base_url + REFRESH_PATH,
            headers={"Authorization": f"Bearer {refresh_token}"},
            timeout=timeout,
        )
    except requests.RequestException as exc:
        raise map_failure(exception=exc, read_timeout=timeout[1]) from None
    secrets = (refresh_token,)
    if is_auth_failure(response):
        said = error_fields(response)["message"]
        error = map_failure(status=401, message=said, secrets=secrets)
        raise AuthenticationFailed(
            error.message.replace("the token", "the refresh token", 1)
        ) from None
    if response.status_code >= 400:
        raise error_from_response(response, secrets)
    try:
        body = response.json()
    except ValueError:
        raise UpstreamError("Kimi's token refresh answer was not JSON") from None
    if isinstance(body, dict) and body.get("error_type") == "auth.token.invalid":
        raise map_failure(kind="auth.token.invalid", message=body.get("message"), secrets=secrets)
    access = (body.get("access_token") or body.get("token")) if isinstance(body, dict) else None
    if not isinstance(access, str) or not access:
        raise UpstreamError("Kimi's token refresh answer carried no access token")
    return access


@dataclass
class _Entry:
    access_token: str
    refresh_at: float  # Unix time after which the token is refreshed before use


class TokenCache:
    """Access tokens per credential, refreshed on demand.

    ``refresher(refresh_token) -> access_token`` does the network call. ``ttl`` (seconds) caps how
    long one access token is reused (``rest`` re-refreshes every ``ACCESS_TOKEN_TTL``); with
    ``ttl=None`` only the JWT ``exp`` counts (``connect``), and a token without ``exp`` is kept
    until :meth:`invalidate`. Concurrent callers for one credential wait for a single refresh.

    Locks are created when the cache is, never at import time: under gunicorn's gevent worker,
    ``threading`` is monkey-patched before the app is built, so these become cooperative locks.
    """

    def __init__(
        self,
        refresher: Callable[[str], str],
        *,
        ttl: float | None = None,
        margin: float = REFRESH_MARGIN,
        clock: Callable[[], float] = time.time,
        max_entries: int = 4096,
    ):
        self._refresher = refresher
        self._ttl = ttl
        self._margin = margin
        self._clock = clock
        self._max_entries = max_entries
        self._entries: dict[str, _Entry] = {}
        self._locks: dict[str, threading.Lock] = {}
        # Guards the two dicts' structure; never held across a network call.
        self._guard = threading.Lock()

    def get(self, credential: str) -> str:
        """The access token to send for ``credential`` (refreshing it first if needed)."""
        if is_access_token(credential):
            return credential
        entry = self._fresh_entry(credential)
        if entry is not None:
            return entry.access_token
        with self._lock_for(credential):
            # Whoever held the lock before us may have just refreshed this credential.
            entry = self._fresh_entry(credential)
            if entry is not None:
                return entry.access_token
            log.debug("refreshing the access token of credential %s", fingerprint(credential))
            access = self._refresher(credential)
            entry = _Entry(access, self._refresh_at(access))
            with self._guard:
                self._entries[credential] = entry
                if len(self._entries) > self._max_entries:
                    self._prune()
            return access

    def invalidate(self, credential: str, access_token: str | None = None) -> None:
        """Forget the cached access token (after Kimi answered 401 with it), so the next
        :meth:`get` refreshes. With ``access_token``, forget it only if it is still the cached one:
        a concurrent request may already have replaced it with a fresh token."""
        with self._guard:
            entry = self._entries.get(credential)
            if entry and (access_token is None or entry.access_token == access_token):
                del self._entries[credential]

    def can_refresh(self, credential: str) -> bool:
        """Whether a refresh could produce a different token (an access JWT cannot be renewed)."""
        return not is_access_token(credential)

    def secrets_for(self, credential: str) -> tuple[str, ...]:
        """What an error message about ``credential`` must never show: the credential itself and
        the access token cached for it."""
        entry = self._entries.get(credential)
        return (credential, entry.access_token) if entry else (credential,)

    def _fresh_entry(self, credential: str) -> _Entry | None:
        entry = self._entries.get(credential)
        if entry is not None and self._clock() < entry.refresh_at:
            return entry
        return None

    def _lock_for(self, credential: str) -> threading.Lock:
        with self._guard:
            lock = self._locks.get(credential)
            if lock is None:
                # A failed refresh caches no token, so only this keeps bogus credentials (anyone
                # can send them) from piling up locks.
                if len(self._locks) >= self._max_entries:
                    self._prune()
                lock = self._locks[credential] = threading.Lock()
            return lock

    def _refresh_at(self, access_token: str) -> float:
        now = self._clock()
        candidates = []
        exp = token_expiry(access_token)
        if exp is not None:
            candidates.append(exp - self._margin)
        if self._ttl is not None:
            candidates.append(now + self._ttl)
        return min(candidates) if candidates else float("inf")

    def _prune(self) -> None:
        # Called with the guard held. Drops stale tokens and the locks nobody is using, so callers
        # that pass ever-new tokens cannot grow the cache without bound.
        now = self._clock()
        for credential in [c for c, e in self._entries.items() if e.refresh_at <= now]:
            del self._entries[credential]
        for credential in [c for c, lock in self._locks.items() if not lock.locked()]:
            if credential not in self._entries:
                del self._locks[credential]
        while len(self._entries) > self._max_entries:
            del self._entries[next(iter(self._entries))]
