"""Every error as an OpenAI error object: the proxy's own errors, Flask's HTTP errors (an unknown
route, a wrong method, a body over the limit) and anything unexpected, each through the error
classes of :mod:`kimiproxy.errors` so one wording serves each case."""

from __future__ import annotations

import logging

from flask import Flask, jsonify
from werkzeug.exceptions import HTTPException

from kimiproxy.errors import (
    AuthenticationFailed,
    InternalError,
    InvalidRequest,
    KimiProxyError,
    NotFound,
    PayloadTooLarge,
)

log = logging.getLogger("kimiproxy")
MAX_RETRY_AFTER = 3600  # seconds: a longer wait asked by Kimi is passed on as this


def error_response(error: KimiProxyError):
    response = jsonify(error.to_dict())
    response.status_code = error.status
    if error.retry_after:
        response.headers["Retry-After"] = str(int(min(error.retry_after, MAX_RETRY_AFTER)))
    return response


def from_http_exception(error: HTTPException, body_limit: int) -> KimiProxyError:
    """The proxy error that stands for one of Flask's HTTP errors."""
    status = error.code or 500
    code = error.name.lower().replace(" ", "_")
    if status == 413:
        return PayloadTooLarge(
            f"the request body is larger than the {body_limit}-byte limit (MAX_BODY_BYTES)",
            code=code,
        )
    if status == 404:
        return NotFound("no such endpoint: see /v1/chat/completions and /v1/models", code=code)
    if status == 401:
        return AuthenticationFailed(error.description or error.name, code=code)
    if status < 500:
        return InvalidRequest(error.description or error.name, code=code, status=status)
    return InternalError(error.description or error.name, code=code, status=status)


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(KimiProxyError)
    def proxy_error(error: KimiProxyError):
        detail = getattr(error, "detail", None)
        if detail:  # what the client is not told, the operator's log says
            log.warning("%s: %s", error.code, detail)
        return error_response(error)

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        return error_response(from_http_exception(error, app.config["MAX_CONTENT_LENGTH"]))

    @app.errorhandler(Exception)
    def unexpected(error: Exception):
        log.exception("unexpected error")
        return error_response(InternalError())
