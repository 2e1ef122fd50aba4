"""Error responses as each protocol writes them."""

from __future__ import annotations

from flask import Response, jsonify

from kimiproxy.emulator.connect.framing import FLAG_END_STREAM, encode_envelope

INVALID_TOKEN_MESSAGE = "您的授权已过期，请重新登录"

# Connect error codes and the HTTP status a unary call answers them with.
CONNECT_STATUS = {
    "canceled": 499,
    "unknown": 500,
    "invalid_argument": 400,
    "deadline_exceeded": 504,
    "not_found": 404,
    "already_exists": 409,
    "permission_denied": 403,
    "resource_exhausted": 429,
    "failed_precondition": 400,
    "aborted": 409,
    "out_of_range": 400,
    "unimplemented": 501,
    "internal": 500,
    "unavailable": 503,
    "data_loss": 500,
    "unauthenticated": 401,
}


def rest_error(
    status: int,
    error_type: str,
    message: str,
    detail: object = None,
    headers: dict | None = None,
) -> Response:
    """A ``rest`` error: ``{"error_type","message","detail"}`` with a 4xx/5xx status."""
    response = jsonify(error_type=error_type, message=message, detail=detail)
    response.status_code = status
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def invalid_token() -> Response:
    return rest_error(
        401,
        "auth.token.invalid",
        INVALID_TOKEN_MESSAGE,
        "the access token is missing, invalid or expired",
    )


def connect_error(
    code: str, message: str, status: int | None = None, headers: dict | None = None
) -> Response:
    """A Connect error as a whole HTTP answer: ``{"code","message"}`` with the code's HTTP status
    (unary calls, and streaming calls refused outright)."""
    response = jsonify(code=code, message=message)
    response.status_code = status or CONNECT_STATUS.get(code, 500)
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def connect_unauthenticated(expired: bool) -> Response:
    """``connect`` refuses a token with a plain-text 401."""
    text = "token is expired" if expired else "unauthenticated"
    return Response(text, status=401, mimetype="text/plain")


def end_stream_frame(
    code: str | None = None, message: str = "", details: list | None = None
) -> bytes:
    """The final envelope (flag 0x02): ``{}`` or ``{"error": ...}``."""
    if code is None:
        return encode_envelope({}, FLAG_END_STREAM)
    error: dict = {"code": code, "message": message}
    if details:
        error["details"] = details
    return encode_envelope({"error": error}, FLAG_END_STREAM)


def end_stream_error(code: str, message: str) -> Response:
    """A streaming call that fails before any output: HTTP 200 and just the end-stream error."""
    return Response(
        end_stream_frame(code, message), status=200, mimetype="application/connect+json"
    )
