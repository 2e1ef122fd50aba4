"""Access tokens (JWTs) the emulator hands out, how it checks them, and whose account they are."""

from __future__ import annotations

import base64
import hashlib
import json
import time

from kimiproxy.emulator.bodies import BodyError, parse_json

ACCESS_LIFETIME = 30 * 24 * 3600
_HEADER = {"alg": "HS512", "typ": "JWT"}
# The signature is never verified, so tests can forge tokens (expired, wrong claims) at will.
_SIGNATURE = "emulator"


class TokenError(Exception):
    """A token was refused; ``expired`` tells "token is expired" from other refusals."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.expired = reason == "expired"


def b64url(data: bytes) -> str:
    """Base64url without padding, as JWT parts are written."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def encode_jwt(payload: dict) -> str:
    """A JWT with the emulator's header and signature part around ``payload``."""
    parts = [json.dumps(_HEADER, separators=(",", ":")), json.dumps(payload, separators=(",", ":"))]
    return ".".join([*(b64url(part.encode()) for part in parts), _SIGNATURE])


def decode_jwt(token: str) -> dict | None:
    """The payload of ``token`` if it is shaped like a JWT, else ``None``."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        header = parse_json(_b64url_decode(parts[0]))
        payload = parse_json(_b64url_decode(parts[1]))
    except (BodyError, ValueError):  # also covers binascii.Error and UnicodeDecodeError
        return None
    if not isinstance(header, dict) or not isinstance(payload, dict):
        return None
    return payload


def user_id_for(token: str) -> str:
    """The account id a refresh token stands for: the same token is always the same account."""
    return hashlib.sha256(token.encode()).hexdigest()[:20]


def make_access_token(user_id: str, now: float | None = None) -> str:
    """A fresh 30-day access JWT for ``user_id``."""
    issued = int(time.time() if now is None else now)
    digest = hashlib.sha256(user_id.encode()).hexdigest()
    payload = {
        "iss": "user-center",
        "typ": "access",
        "app_id": "kimi",
        "sub": user_id,
        "space_id": digest[20:40],
        "device_id": str(int(digest[40:55], 16)),
        "exp": issued + ACCESS_LIFETIME,
        "iat": issued,
    }
    return encode_jwt(payload)


def _check_expiry(claims: dict) -> None:
    exp = claims.get("exp")
    if not isinstance(exp, int | float) or exp <= time.time():
        raise TokenError("expired")


def check_refresh_token(token: str) -> str:
    """The account of a refresh token, or :class:`TokenError`.

    Any non-JWT is a refresh token (refused when it starts with ``invalid``); a JWT is accepted
    only when it is a Kimi refresh JWT (``typ=refresh``), as the real refresh tokens are.
    """
    if not token:
        raise TokenError("invalid")
    claims = decode_jwt(token)
    if claims is None:
        if token.startswith("invalid"):
            raise TokenError("invalid")
        return user_id_for(token)
    sub = claims.get("sub")
    if claims.get("app_id") != "kimi" or claims.get("typ") != "refresh" or not isinstance(sub, str):
        raise TokenError("invalid")
    _check_expiry(claims)
    return sub


def check_access_token(token: str | None) -> str:
    """The account of a valid access JWT, or :class:`TokenError`."""
    claims = decode_jwt(token) if token else None
    if claims is None or claims.get("app_id") != "kimi" or claims.get("typ") != "access":
        raise TokenError("invalid")
    sub = claims.get("sub")
    if not isinstance(sub, str) or not sub:
        raise TokenError("invalid")
    _check_expiry(claims)
    return sub


def account_of(token: str | None) -> str | None:
    """Best-effort account id for recording a call (never the token itself)."""
    if not token:
        return None
    claims = decode_jwt(token)
    if claims is None:
        return user_id_for(token)
    sub = claims.get("sub")
    return sub if isinstance(sub, str) else None
