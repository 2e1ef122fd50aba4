"""Downloading an ``http(s)`` URL into a temporary file, within the guard and the limits.

One GET per hop with ``requests`` (``stream=True``, redirects followed here, at most
``FETCH_MAX_REDIRECTS``): every hop's host is resolved, checked by the address guard and connected
to at the checked address. A ``Content-Length`` over ``MAX_FILE_BYTES`` is refused before the body
is read; the body is copied in chunks into a spooled temporary file with a running size count.
``FETCH_CONNECT_TIMEOUT`` / ``FETCH_READ_TIMEOUT`` bound each connection and each read;
``FETCH_TOTAL_TIMEOUT`` bounds the whole transfer (a gevent timeout when the process is
monkey-patched, and a check between chunks in any case).

Errors are 400s naming the URL (without credentials) and what went wrong — the HTTP status, a
timeout, a refused address — or 413 for a file over the cap. Bodies are never logged.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import IO
from urllib.parse import urljoin, urlsplit

import gevent
import requests
import urllib3.exceptions

from kimiproxy.errors import InvalidRequest
from kimiproxy.inputs.address_guard import (
    DestinationRefused,
    ResolutionFailed,
    checked_addresses,
    pinned_session,
)
from kimiproxy.inputs.errors import bad_input, display_url, log_url, too_large
from kimiproxy.inputs.settings import FetchSettings
from kimiproxy.inputs.spool import CHUNK_BYTES, new_spool

log = logging.getLogger(__name__)
USER_AGENT = "kimiproxy-file-fetch/0.1"
SCHEMES = ("http", "https")
DEADLINE_SLACK = 0.05  # seconds


class _TransferDeadline(Exception):
    """``FETCH_TOTAL_TIMEOUT`` passed."""


@dataclass
class Download:
    """A downloaded file: ``body`` positioned at its start, and what the server said about it."""

    body: IO[bytes]
    size: int
    url: str  # the final URL, after redirects
    content_type: str | None
    disposition: str | None


def download(url: str, settings: FetchSettings) -> Download:
    """Fetch ``url`` within ``settings``; raises :class:`kimiproxy.errors.InvalidRequest` (or
    ``PayloadTooLarge``) with a message that names the URL (and where it redirected)."""
    deadline = time.monotonic() + settings.total_timeout
    hop = _Hop(url, url)
    try:
        with gevent.Timeout(settings.total_timeout, _TransferDeadline):
            return _follow(hop, settings, deadline)
    except _TransferDeadline:
        raise bad_input(
            f"could not fetch {hop.subject}: the transfer took longer than "
            f"{settings.total_timeout:g} s (KIMIPROXY_FETCH_TOTAL_TIMEOUT)",
            "fetch_timeout",
        ) from None


@dataclass
class _Hop:
    """The URL the client named and the one being fetched now (they differ after a redirect)."""

    original: str
    current: str

    @property
    def subject(self) -> str:
        shown = display_url(self.original)
        if self.current == self.original:
            return shown
        return f"{shown} (redirected to {display_url(self.current)})"


def _follow(hop: _Hop, settings: FetchSettings, deadline: float) -> Download:
    for _ in range(settings.max_redirects + 1):
        host, port = _check_url(hop)
        response, session = _get(hop, host, port, settings, deadline)
        try:
            if response.is_redirect:
                location = response.headers.get("Location", "")
                log.info("fetch %s redirects to %s", log_url(hop.current), log_url(location))
                hop.current = urljoin(hop.current, location)
                continue
            if not 200 <= response.status_code < 300:
                raise bad_input(
                    f"could not fetch {hop.subject}: HTTP {response.status_code}"
                    + _reason(response),
                    "fetch_failed",
                )
            return _copy(response, hop, settings, deadline)
        finally:
            response.close()
            session.close()
    raise bad_input(
        f"could not fetch {display_url(hop.original)}: more than {settings.max_redirects} "
        "redirects (KIMIPROXY_FETCH_MAX_REDIRECTS)",
        "fetch_failed",
    )


def _reason(response: requests.Response) -> str:
    reason = (response.reason or "").strip()
    return f" {reason}" if reason and len(reason) < 60 and reason.isprintable() else ""


def _check_url(hop: _Hop) -> tuple[str, int]:
    """The host and port of the current URL, if it is a fetchable http(s) URL."""
    try:
        parts = urlsplit(hop.current)
        port = parts.port
    except ValueError:
        raise bad_input(f"could not fetch {hop.subject}: not a valid URL", "invalid_url") from None
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES:
        if hop.current == hop.original:
            why = "only http and https URLs can be fetched"
        else:
            why = (
                f"it redirected to a {scheme or 'relative'}: URL; only http and https are followed"
            )
        raise bad_input(f"could not fetch {display_url(hop.original)}: {why}", "unsupported_scheme")
    if not parts.hostname:
        raise bad_input(f"could not fetch {hop.subject}: the URL has no host", "invalid_url")
    return parts.hostname, port or (443 if scheme == "https" else 80)


def _remaining(deadline: float) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise _TransferDeadline()
    return left


def _check_deadline_hit(deadline: float) -> None:
    """A socket timeout shortened to the time left is the overall deadline, not a slow read."""
    if time.monotonic() >= deadline - DEADLINE_SLACK:
        raise _TransferDeadline() from None


def _get(
    hop: _Hop, host: str, port: int, settings: FetchSettings, deadline: float
) -> tuple[requests.Response, requests.Session]:
    """GET the current URL on one of its checked addresses: ``(response, session)``, both to be
    closed by the caller. Addresses are tried in order while connecting fails."""
    try:
        addresses = checked_addresses(host, port, settings.allow)
    except DestinationRefused as refusal:
        log.warning("fetch %s refused by the address guard: %s", log_url(hop.current), refusal)
        raise bad_input(
            f"refusing to fetch {hop.subject}: {refusal} (the address guard; an operator "
            "can allow destinations with KIMIPROXY_FETCH_ALLOW)",
            "fetch_blocked",
        ) from None
    except ResolutionFailed as failure:
        raise bad_input(f"could not fetch {hop.subject}: {failure}", "fetch_failed") from None
    last_error: InvalidRequest | None = None
    for position, address in enumerate(addresses):
        left = _remaining(deadline)
        session = pinned_session(address)
        try:
            response = session.get(
                hop.current,
                stream=True,
                allow_redirects=False,
                timeout=(min(settings.connect_timeout, left), min(settings.read_timeout, left)),
                headers={"User-Agent": USER_AGENT, "Accept": "*/*", "Accept-Encoding": "identity"},
            )
            return response, session
        except requests.exceptions.RequestException as exc:
            session.close()
            _check_deadline_hit(deadline)
            last_error = _transfer_error(exc, hop.subject, settings)
            if not _is_connect_failure(exc):
                raise last_error from None
            log.info(
                "fetch %s: could not connect to %s, %d address(es) left",
                log_url(hop.current),
                address,
                len(addresses) - position - 1,
            )
        except BaseException:
            session.close()
            raise
    assert last_error is not None
    raise last_error


def _is_connect_failure(exc: BaseException) -> bool:
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return True
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    return isinstance(exc, requests.exceptions.ConnectionError) and isinstance(
        reason, urllib3.exceptions.NewConnectionError
    )


def _transfer_error(exc: BaseException, subject: str, settings: FetchSettings) -> InvalidRequest:
    """A clear 400 for a failed transfer; the exception text is not echoed (it may name internal
    addresses)."""
    inner = exc.args[0] if exc.args else None
    code = "fetch_timeout"
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        why = (
            f"no connection within {settings.connect_timeout:g} s (KIMIPROXY_FETCH_CONNECT_TIMEOUT)"
        )
    elif isinstance(
        exc, (requests.exceptions.ReadTimeout, urllib3.exceptions.ReadTimeoutError, TimeoutError)
    ) or isinstance(inner, urllib3.exceptions.ReadTimeoutError):
        why = (
            f"the server sent nothing for {settings.read_timeout:g} s "
            "(KIMIPROXY_FETCH_READ_TIMEOUT)"
        )
    elif isinstance(exc, requests.exceptions.SSLError):
        why, code = (
            "the TLS connection failed (certificate not valid for the host?)",
            "fetch_failed",
        )
    elif _is_connect_failure(exc):
        why, code = "the server could not be reached", "fetch_failed"
    elif isinstance(
        exc,
        (
            requests.exceptions.InvalidURL,
            requests.exceptions.InvalidSchema,
            requests.exceptions.MissingSchema,
        ),
    ):
        why, code = "the URL is not valid", "invalid_url"
    elif isinstance(exc, (urllib3.exceptions.HTTPError, OSError)):  # requests' errors included
        why, code = "the connection broke during the download", "fetch_failed"
    else:
        why, code = "the connection failed", "fetch_failed"
    return bad_input(f"could not fetch {subject}: {why}", code)


def _copy(
    response: requests.Response, hop: _Hop, settings: FetchSettings, deadline: float
) -> Download:
    """Copy the body into a spooled file, counting bytes; ``read1`` returns what one read got,
    so the deadline is checked even while a server trickles bytes."""
    declared = response.headers.get("Content-Length")
    if declared and declared.strip().isdigit() and int(declared) > settings.max_bytes:
        raise too_large(f"the file at {hop.subject} ({int(declared)} bytes)", settings.max_bytes)
    body = new_spool()
    size = 0
    try:
        while True:
            chunk = response.raw.read1(CHUNK_BYTES, decode_content=True)
            if not chunk:
                break
            size += len(chunk)
            if size > settings.max_bytes:
                raise too_large(f"the file at {hop.subject}", settings.max_bytes)
            body.write(chunk)
            _remaining(deadline)
        body.seek(0)
    except (requests.exceptions.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
        body.close()
        _check_deadline_hit(deadline)
        raise _transfer_error(exc, hop.subject, settings) from None
    except BaseException:
        body.close()
        raise
    return Download(
        body=body,
        size=size,
        url=hop.current,
        content_type=response.headers.get("Content-Type"),
        disposition=response.headers.get("Content-Disposition"),
    )
