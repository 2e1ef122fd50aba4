"""The two token refresh endpoints: the rotating ``POST /api/account.gateway.v1.AuthService/
RefreshToken`` (served by auth.kimi.com on the live site, here on the emulator's own base URL)
and the older ``GET /api/auth/token/refresh``.

Both check the refresh token, ask the rotation ledger (``rotation.py``) whether it may be used,
and hand out a fresh access token living ``access_ttl`` seconds. The rotating endpoint also
issues a new refresh token and retires the one given; the older one does so only with the
``legacy_refresh_rotates`` option, and otherwise hands the given refresh token back.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from flask import Blueprint, jsonify, request

from kimiproxy.emulator.auth import bearer_token
from kimiproxy.emulator.bodies import BodyError, request_json_object
from kimiproxy.emulator.errors import connect_error, invalid_token, rest_error
from kimiproxy.emulator.rotation import Grant
from kimiproxy.emulator.state import get_state
from kimiproxy.emulator.tokens import (
    TokenError,
    account_of,
    check_refresh_token,
    make_access_token,
)

bp = Blueprint("kimi_refresh", __name__)
ROTATING_PATH = "/api/account.gateway.v1.AuthService/RefreshToken"
LEGACY_PATH = "/api/auth/token/refresh"
# Sessions started by a refresh token with this prefix get the other answer shape seen in the
# wild on the older endpoint: {"token": ...} instead of {"access_token": ...}.
TOKEN_FIELD_PREFIX = "tokenfield-"
HANG_FAULT = "refresh_hang"

# Why a refresh was refused, and what the rotating endpoint says about it.
_HANG, _INVALID, _EXPIRED, _CONFLICT = "hang", "invalid", "expired", "conflict"
_UNAUTHENTICATED = {
    _INVALID: "unauthenticated",
    _EXPIRED: "token is expired",
    _CONFLICT: "invalid claims",  # what the live site says to a rotated-out token
}


@dataclass(frozen=True)
class _Result:
    grant: Grant | None = None
    access_token: str = ""
    refusal: str | None = None


def _refresh(token: str, *, rotate: bool) -> _Result:
    """One refresh of ``token``, recorded in the ledger whatever its outcome."""
    state = get_state()
    options = state.options
    ledger = state.refreshes
    started = time.time()
    if state.take_fault("refresh") == HANG_FAULT:
        # The hung call never reaches the token: the token stays as it was.
        time.sleep(float(options["refresh_hang_seconds"]))
        ledger.refuse(
            path=request.path,
            token=token,
            account=account_of(token),
            reason=f"the {HANG_FAULT} fault",
            status=504,
            started=started,
            finished=time.time(),
            fault=HANG_FAULT,
        )
        return _Result(refusal=_HANG)
    try:
        account = check_refresh_token(token)
    except TokenError as exc:
        ledger.refuse(
            path=request.path,
            token=token,
            account=account_of(token),
            reason="the refresh token is expired" if exc.expired else "not a refresh token",
            status=401,
            started=started,
            finished=time.time(),
        )
        return _Result(refusal=_EXPIRED if exc.expired else _INVALID)
    attempt = ledger.begin(
        token,
        account,
        path=request.path,
        rotate=rotate,
        grace=float(options["refresh_grace"]),
        now=started,
        token_field=token.startswith(TOKEN_FIELD_PREFIX),
    )
    if options["refresh_delay"]:
        time.sleep(float(options["refresh_delay"]))
    grant = ledger.finish(attempt, time.time())
    if grant is None:
        return _Result(refusal=_CONFLICT)
    access_token = make_access_token(grant.identity, int(options["access_ttl"]))
    state.token_book.note(access_token, grant.refresh_token)
    return _Result(grant, access_token)


@bp.post(ROTATING_PATH)
def rotating_refresh():
    """Plain JSON ``{"refresh_token": ...}`` (no envelope, no Authorization header) →
    ``{"accessToken", "refreshToken"}``, both new."""
    if not get_state().options["rotating_refresh"]:
        return connect_error("unimplemented", f"{request.path} is not implemented", 404)
    try:
        body = request_json_object()
    except BodyError as exc:
        return connect_error("invalid_argument", f"request body: {exc}")
    # Connect's JSON mapping accepts a field's proto name and its camelCase JSON name alike.
    token = body.get("refresh_token", body.get("refreshToken"))
    if not isinstance(token, str) or not token:
        return connect_error("invalid_argument", "refresh_token is required")
    result = _refresh(token, rotate=True)
    if result.refusal == _HANG:
        return connect_error("deadline_exceeded", "the token refresh timed out")
    if result.refusal is not None:
        return connect_error("unauthenticated", _UNAUTHENTICATED[result.refusal])
    return jsonify(accessToken=result.access_token, refreshToken=result.grant.refresh_token)


@bp.get(LEGACY_PATH)
def legacy_refresh():
    """``Authorization: Bearer <refresh>`` → ``{"access_token", "refresh_token"}``."""
    result = _refresh(bearer_token() or "", rotate=get_state().options["legacy_refresh_rotates"])
    if result.refusal == _HANG:
        return rest_error(504, "server.timeout", "请求超时", "the token refresh timed out")
    if result.refusal is not None:
        return invalid_token()
    field = "token" if result.grant.token_field else "access_token"
    return jsonify({field: result.access_token, "refresh_token": result.grant.refresh_token})
