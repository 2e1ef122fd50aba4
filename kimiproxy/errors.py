"""The error hierarchy: every failure the proxy reports is one of these, rendered as an
OpenAI error object."""

from __future__ import annotations


class KimiProxyError(Exception):
    """Base class; carries what an OpenAI error object needs."""

    status = 500
    error_type = "server_error"
    code: str | None = "internal_error"

    def __init__(
        self,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        status: int | None = None,
        retry_after: float | None = None,
    ):
        super().__init__(message)
        self.message = message
        self.param = param
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status
        self.retry_after = retry_after

    def to_dict(self) -> dict:
        """The OpenAI error body: ``{"error": {"message", "type", "param", "code"}}``."""
        return {
            "error": {
                "message": self.message,
                "type": self.error_type,
                "param": self.param,
                "code": self.code,
            }
        }


class InternalError(KimiProxyError):
    """Something failed inside the proxy (500); the details go to the log, not the client."""

    status = 500
    error_type = "server_error"
    code = "internal_error"

    def __init__(self, message: str = "the proxy failed to handle the request", **kwargs):
        super().__init__(message, **kwargs)


class InvalidRequest(KimiProxyError):
    """The client sent something we cannot act on (400)."""

    status = 400
    error_type = "invalid_request_error"
    code = "invalid_request"


class PayloadTooLarge(InvalidRequest):
    """A body or a file over a configured limit (413)."""

    status = 413
    code = "payload_too_large"


class NotFound(InvalidRequest):
    """An unknown model, route or conversation (404)."""

    status = 404
    code = "not_found"


class AuthenticationFailed(KimiProxyError):
    """Missing or rejected credentials (401)."""

    status = 401
    error_type = "authentication_error"
    code = "invalid_api_key"


class PermissionDenied(KimiProxyError):
    """Upstream refuses this account the action (403)."""

    status = 403
    error_type = "permission_error"
    code = "forbidden"


class RateLimited(KimiProxyError):
    """Upstream throttles this account, or it is busy with another answer (429)."""

    status = 429
    error_type = "rate_limit_error"
    code = "rate_limit_exceeded"


class UpstreamError(KimiProxyError):
    """Kimi answered with something unusable (502)."""

    status = 502
    error_type = "upstream_error"
    code = "upstream_error"


class UpstreamUnavailable(UpstreamError):
    """Kimi could not be reached (503)."""

    status = 503
    code = "upstream_unavailable"


class UpstreamTimeout(UpstreamError):
    """Kimi did not answer in time (504)."""

    status = 504
    code = "upstream_timeout"


class ClientDisconnected(BaseException):
    """The client closed its connection before its answer was complete. Not an error to
    report to anyone: the answer is abandoned and cleaned up. A ``BaseException``, like
    ``GeneratorExit``, so that no ``except Exception`` on the way swallows it."""
