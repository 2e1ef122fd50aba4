"""The tokens the emulator hands out (access and refresh JWTs), how it checks them, and whose
account, device and login session they stand for."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
from dataclasses import dataclass

from kimiproxy.emulator.bodies import BodyError, parse_json

REFRESH_LIFETIME = 90 * 24 * 3600
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


def fingerprint(token: str) -> str:
    """A short, irreversible name for a token, safe to show (the first 10 hex characters of its
    SHA-256, the same fingerprint kimiproxy's logs use)."""
    return hashlib.sha256(token.encode()).hexdigest()[:10]


def _number(text: str, salt: str) -> str:
    """A stable large decimal number derived from ``text``, shaped like Kimi's device and
    session ids."""
    return str(int(hashlib.sha256(f"{salt}:{text}".encode()).hexdigest()[:15], 16))


@dataclass(frozen=True)
class Identity:
    """Whom a token speaks for: the account (``sub``), the device (``device_id``) and the login
    session (``ssid``) it was issued to. Rotated tokens keep their identity."""

    account: str
    device_id: str
    session_id: str


def identity_for(token: str, account: str) -> Identity:
    """The identity of a refresh token seen for the first time: the ``device_id`` and ``ssid``
    claims of a refresh JWT that carries them, else ids derived from the account (device) and
    the token (session), so the same token always gets the same ones."""
    claims = decode_jwt(token) or {}
    device, session = claims.get("device_id"), claims.get("ssid")
    return Identity(
        account=account,
        device_id=device if isinstance(device, str) and device else _number(account, "device"),
        session_id=session if isinstance(session, str) and session else _number(token, "session"),
    )


def _claims(identity: Identity, typ: str, issued: int, lifetime: int) -> dict:
    digest = hashlib.sha256(identity.account.encode()).hexdigest()
    return {
        "iss": "user-center",
        "typ": typ,
        "app_id": "kimi",
        "sub": identity.account,
        "space_id": digest[20:40],
        "device_id": identity.device_id,
        "ssid": identity.session_id,
        "jti": secrets.token_hex(10),
        "exp": issued + lifetime,
        "iat": issued,
    }


def make_access_token(identity: Identity, ttl: int, now: float | None = None) -> str:
    """A fresh access JWT for ``identity`` that expires ``ttl`` seconds after it is issued."""
    issued = int(time.time() if now is None else now)
    return encode_jwt(_claims(identity, "access", issued, ttl))


def make_refresh_token(identity: Identity, now: float | None = None) -> str:
    """A fresh 90-day refresh JWT for ``identity``; its ``jti`` makes every one distinct."""
    issued = int(time.time() if now is None else now)
    return encode_jwt(_claims(identity, "refresh", issued, REFRESH_LIFETIME))


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
