"""What a Kimi token says about itself: an access JWT or a refresh token, when it expires, and
whom it speaks for (the identity headers the web page derives from its claims). See
``docs/kimi-protocol.md``, "Access tokens and their refresh" and "Identity headers".

Only the payload is decoded, never verified: the signature is Kimi's business. Tokens never reach
a log line or an exception message; :func:`fingerprint` is what logs show.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json

# Claim → header, as the web page sends them (2026).
IDENTITY_CLAIMS = {
    "device_id": "X-Msh-Device-Id",
    "ssid": "X-Msh-Session-Id",
    "sub": "X-Traffic-Id",
}


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


def _number_claim(token: str, name: str) -> float | None:
    value = (jwt_claims(token) or {}).get(name)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def token_expiry(token: str) -> float | None:
    """The JWT ``exp`` claim as a Unix time, if there is one."""
    return _number_claim(token, "exp")


def token_lifetime(token: str) -> float | None:
    """``exp - iat`` in seconds, when the token carries both and they make sense."""
    exp, iat = _number_claim(token, "exp"), _number_claim(token, "iat")
    if exp is None or iat is None or exp <= iat:
        return None
    return exp - iat


def identity_headers(access_token: str) -> dict[str, str]:
    """``X-Msh-Device-Id``, ``X-Msh-Session-Id`` and ``X-Traffic-Id`` from the access token's
    ``device_id``, ``ssid`` and ``sub`` claims, for those it carries."""
    claims = jwt_claims(access_token) or {}
    headers = {}
    for claim, header in IDENTITY_CLAIMS.items():
        value = claims.get(claim)
        if isinstance(value, (str, int)) and not isinstance(value, bool) and str(value):
            headers[header] = str(value)
    return headers


def jitter(token: str, spread: float = 0.2) -> float:
    """A factor in ``[1 - spread, 1 + spread]`` fixed by the token, so every worker and instance
    that holds the same access token plans its refresh for the same moment."""
    digest = int(hashlib.sha256(token.encode("utf-8")).hexdigest()[:8], 16)
    return 1.0 - spread + 2 * spread * digest / 0xFFFFFFFF
