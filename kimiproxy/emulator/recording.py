"""Recording every call the emulator receives, for tests to inspect through the control API."""

from __future__ import annotations

from flask import request

from kimiproxy.emulator.auth import bearer_token
from kimiproxy.emulator.bodies import BodyError, parse_json
from kimiproxy.emulator.connect.framing import FramingError, decode_request
from kimiproxy.emulator.refresh_api import ROTATING_PATH
from kimiproxy.emulator.rest.files import OSS_PREFIX
from kimiproxy.emulator.state import get_state
from kimiproxy.emulator.tokens import account_of, fingerprint

_SECRET_HEADERS = frozenset({"authorization", "cookie"})
# Body fields that carry a token: the record shows their fingerprint instead.
_TOKEN_FIELDS = frozenset({"refresh_token", "refreshToken", "access_token", "accessToken"})


def protocol_for(path: str) -> str:
    """``connect`` for that protocol's paths (and its rotating token refresh), ``control`` for
    the emulator's own API, else ``rest`` (the object-storage PUT belongs to the ``rest`` upload
    flow)."""
    if path.startswith(OSS_PREFIX):
        return "rest"
    if path.startswith("/_emulator"):
        return "control"
    if path.startswith("/apiv2") or path == ROTATING_PATH:
        return "connect"
    return "rest"


def _body() -> object:
    # Uploaded bytes are never buffered for the record; they are hashed as they stream in.
    if request.path.startswith(OSS_PREFIX) or request.mimetype == "multipart/form-data":
        return None
    if request.mimetype == "application/connect+json":
        try:
            return decode_request(request.get_data())
        except FramingError:
            return None
    if request.method in ("GET", "HEAD") and not request.is_json:
        return None
    data = request.get_data()
    if not data.strip():
        return None
    try:
        return parse_json(data)
    except BodyError:
        return None  # the endpoint itself answers with the protocol's error


def _without_tokens(body: object) -> object:
    """``body`` with the value of every token field replaced by the token's fingerprint."""
    if not isinstance(body, dict):
        return body
    return {
        key: fingerprint(value) if key in _TOKEN_FIELDS and isinstance(value, str) else value
        for key, value in body.items()
    }


def _account(body: object) -> str | None:
    if request.path == ROTATING_PATH and isinstance(body, dict):
        token = body.get("refresh_token", body.get("refreshToken"))
        return account_of(token) if isinstance(token, str) else None
    return account_of(bearer_token())


def _note_tokens(body: object) -> None:
    """Put every token this call carries in the state's token book (never in the record)."""
    book = get_state().token_book
    book.note(bearer_token(), request.cookies.get("kimi-auth"))
    if isinstance(body, dict):
        book.note(*(body.get(key) for key in _TOKEN_FIELDS))


def record_call() -> None:
    """``before_request`` hook: append the call (never a token) to the state's call list."""
    body = _body()
    _note_tokens(body)
    call = {
        "method": request.method,
        "path": request.path,
        "protocol": protocol_for(request.path),
        "body": _without_tokens(body),
        "account": _account(body),
        "query": request.args.to_dict(),
        "headers": {k: v for k, v in request.headers.items() if k.lower() not in _SECRET_HEADERS},
    }
    get_state().record_call(call)
