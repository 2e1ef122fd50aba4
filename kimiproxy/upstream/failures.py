"""The one table that turns an upstream failure (a refused connection, a timeout, an error
status or an error payload, whichever protocol sent it) into one of our
:mod:`kimiproxy.errors`. See ``docs/kimi-protocol.md``, "Errors, overload and stalls" and
"REST errors".

Every message produced here is written for the end user and never carries a token: Kimi's own
message is quoted, but anything shaped like a JWT or equal to a secret the caller names is cut out.
"""

from __future__ import annotations

import email.utils
import json
import re
import time
from collections.abc import Iterable, Mapping

import requests
import urllib3.exceptions

from kimiproxy.errors import (
    AuthenticationFailed,
    KimiProxyError,
    NotFound,
    PermissionDenied,
    RateLimited,
    UpstreamError,
    UpstreamTimeout,
    UpstreamUnavailable,
)

MAX_MESSAGE_CHARS = 300

_JWT_SHAPE = re.compile(r"eyJ[\w-]+\.[\w-]+\.[\w-]*")
_BEARER = re.compile(r"(?i)bearer\s+\S+")
# Overload messages seen in the wild ("Kimi is a bit tired now, ask me later").
_OVERLOAD_HINTS = ("累了", "overload", "繁忙", "busy")


def scrub(text: str, secrets: Iterable[str] = ()) -> str:
    """Remove anything token-like from ``text`` and keep it short enough for an error message."""
    for secret in secrets:
        if secret and len(secret) >= 8:
            text = text.replace(secret, "[redacted]")
    text = _JWT_SHAPE.sub("[redacted]", text)
    text = _BEARER.sub("Bearer [redacted]", text)
    text = " ".join(text.split())
    if len(text) > MAX_MESSAGE_CHARS:
        text = text[: MAX_MESSAGE_CHARS - 1] + "…"
    return text


def parse_retry_after(value: str | None) -> float | None:
    """``Retry-After`` as seconds (it may be a number or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def is_overload(reason: str | None, message: str | None) -> bool:
    """Whether Kimi stopped because it is overloaded (rather than, say, a content policy)."""
    if reason and "OVERLOAD" in reason.upper():
        return True
    lowered = (message or "").lower()
    return any(hint in lowered for hint in _OVERLOAD_HINTS)


def map_failure(
    *,
    status: int | None = None,
    kind: str | None = None,
    message: str | None = None,
    reason: str | None = None,
    retry_after: float | None = None,
    exception: BaseException | None = None,
    secrets: Iterable[str] = (),
    read_timeout: float | None = None,
) -> KimiProxyError:
    """The one table from upstream failures to our errors.

    ``status`` is the HTTP status, ``kind`` Kimi's ``error_type`` (``rest``) or Connect
    ``code`` (``connect``), ``reason`` a Connect ``details[].debug.reason``, ``exception`` a
    transport exception. ``secrets`` are strings (the caller's tokens) that must not appear in the
    message even if Kimi echoed them.
    """
    if exception is not None:
        return _map_exception(exception, read_timeout)
    kind = (kind or "").strip()
    kind_l = kind.lower()
    said = scrub(message or "", secrets)
    said_l = said.lower()
    quoted = f": {said}" if said else ""

    if (
        status == 401
        or kind_l in ("auth.token.invalid", "unauthenticated")
        or "token is expired" in said_l
        or said_l == "unauthenticated"
    ):
        return AuthenticationFailed(
            f"Kimi rejected the token{quoted or ': it is invalid or expired'}"
        )
    if kind_l == "chat.user_stream_pushing" or "chat.user_stream_pushing" in said_l:
        return RateLimited(
            "This Kimi account is already answering another request (Kimi allows one answer at "
            "a time per account); try again when it has finished",
            code="account_busy",
            retry_after=retry_after,
        )
    if status == 429 or kind_l in ("resource_exhausted", "chat.rate_limit"):
        return RateLimited(f"Kimi is throttling this account{quoted}", retry_after=retry_after)
    if kind_l in ("chat.not_found", "not_found"):
        return NotFound(f"Kimi does not know this conversation{quoted}", param="conversation_id")
    if kind_l in ("chat.forbidden", "permission_denied") or status == 403:
        return PermissionDenied(f"Kimi refused this account access{quoted}")
    if is_overload(reason, said) or kind_l == "unavailable":
        return UpstreamUnavailable(
            f"Kimi is overloaded, try again later{quoted}", code="upstream_overloaded"
        )
    if kind_l == "deadline_exceeded":
        return UpstreamTimeout(f"Kimi timed out{quoted}")
    where = f"HTTP {status}" if status else "an error"
    label = f" ({kind})" if kind and kind_l not in said_l else ""
    return UpstreamError(f"Kimi answered with {where}{label}{quoted or ''}")


def _map_exception(exc: BaseException, read_timeout: float | None) -> KimiProxyError:
    if isinstance(exc, KimiProxyError):
        return exc
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return UpstreamTimeout("Kimi did not accept the connection in time")
    if isinstance(
        exc, (requests.exceptions.ReadTimeout, urllib3.exceptions.ReadTimeoutError, TimeoutError)
    ):
        after = f" for {read_timeout:g} s" if read_timeout else ""
        return UpstreamTimeout(f"Kimi stopped sending data{after}")
    if isinstance(
        exc,
        (
            requests.exceptions.ChunkedEncodingError,
            urllib3.exceptions.ProtocolError,
            urllib3.exceptions.IncompleteRead,
        ),
    ):
        return UpstreamError(
            "Kimi closed the connection in the middle of the answer: the answer was cut off"
        )
    if isinstance(exc, (requests.exceptions.ConnectionError, OSError)):
        return UpstreamUnavailable("Could not connect to Kimi; it may be down or unreachable")
    return UpstreamError("The request to Kimi failed")


def error_fields(response: requests.Response) -> dict:
    """Pull ``kind``/``message``/``reason`` out of an error body, whichever protocol sent it.

    ``rest``: ``{"error_type","message"}``; ``connect`` unary: ``{"code","message","details"}``;
    ``connect`` 401s are plain text (``token is expired``)."""
    text = ""
    try:
        text = response.text or ""
    except (requests.exceptions.RequestException, urllib3.exceptions.HTTPError):
        text = ""
    try:
        body = json.loads(text) if text else None
    except ValueError:
        body = None
    if isinstance(body, dict):
        error = body.get("error") if isinstance(body.get("error"), dict) else body
        return connect_error_fields(error) | {
            "kind": error.get("error_type") or error.get("code") or "",
        }
    # A short plain-text body is Kimi talking; an HTML error page from a proxy is not worth quoting.
    if text and len(text) < 200 and "<" not in text:
        return {"kind": "", "message": text.strip(), "reason": None}
    return {"kind": "", "message": "", "reason": None}


def connect_error_fields(error: Mapping) -> dict:
    """``{"code","message","details":[{"debug":{"reason","localizedMessage":{"message"}}}]}`` →
    ``kind``/``message``/``reason``; the localized message is preferred when present."""
    reason = None
    message = error.get("message") or ""
    for detail in error.get("details") or []:
        debug = detail.get("debug") if isinstance(detail, dict) else None
        if not isinstance(debug, dict):
            continue
        reason = reason or debug.get("reason")
        localized = debug.get("localizedMessage")
        if isinstance(localized, dict) and localized.get("message"):
            message = localized["message"]
    return {"kind": error.get("code") or "", "message": str(message), "reason": reason}


def error_from_response(response: requests.Response, secrets: Iterable[str] = ()) -> KimiProxyError:
    """The error for an unsuccessful HTTP response."""
    fields = error_fields(response)
    return map_failure(
        status=response.status_code,
        retry_after=parse_retry_after(response.headers.get("Retry-After")),
        secrets=secrets,
        **fields,
    )


def is_auth_failure(response: requests.Response) -> bool:
    """HTTP 401, or Kimi's ``auth.token.invalid`` under another error status."""
    if response.status_code == 401:
        return True
    if response.status_code < 400:
        return False
    return error_fields(response).get("kind") == "auth.token.invalid"


def answer_cut_off() -> UpstreamError:
    """The error for a stream that ended before Kimi said the answer was complete."""
    return UpstreamError("Kimi stopped sending before the end: the answer was cut off")
