"""Recording every call the emulator receives, for tests to inspect through the control API."""

from __future__ import annotations

from flask import request

from kimiproxy.emulator.auth import bearer_token
from kimiproxy.emulator.bodies import BodyError, parse_json
from kimiproxy.emulator.connect.framing import FramingError, decode_request
from kimiproxy.emulator.rest.files import OSS_PREFIX
from kimiproxy.emulator.state import get_state
from kimiproxy.emulator.tokens import account_of

_SECRET_HEADERS = frozenset({"authorization", "cookie"})


def protocol_for(path: str) -> str:
    """``connect`` for that protocol's paths, ``control`` for the emulator's own API, else ``rest``
    (the object-storage PUT belongs to the ``rest`` upload flow)."""
    if path.startswith(OSS_PREFIX):
        return "rest"
    if path.startswith("/_emulator"):
        return "control"
    if path.startswith("/apiv2"):
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


def record_call() -> None:
    """``before_request`` hook: append the call (never the token) to the state's call list."""
    call = {
        "method": request.method,
        "path": request.path,
        "protocol": protocol_for(request.path),
        "body": _body(),
        "account": account_of(bearer_token()),
        "query": request.args.to_dict(),
        "headers": {k: v for k, v in request.headers.items() if k.lower() not in _SECRET_HEADERS},
    }
    get_state().record_call(call)
