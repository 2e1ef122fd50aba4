"""Errors about file parts: how they are worded, and how they come to name the offending part.

Messages are for the client that sent the part: a URL is shown without credentials and cut to a
readable length; a data URL is never echoed.
"""

from __future__ import annotations

import copy
from urllib.parse import urlsplit, urlunsplit

from kimiproxy.errors import InvalidRequest, KimiProxyError, PayloadTooLarge
from kimiproxy.inputs.settings import describe_size

MAX_URL_CHARS = 200


def display_url(url: str) -> str:
    """``https://user:pw@host/a.pdf?x=1`` → ``https://host/a.pdf?x=1``, shortened if long."""
    if url[:5].lower() == "data:":
        return "the data URL"
    try:
        parts = urlsplit(url)
        netloc = parts.netloc.rpartition("@")[2]
        shown = urlunsplit((parts.scheme, netloc, parts.path, parts.query, ""))
    except ValueError:
        shown = url
    if len(shown) > MAX_URL_CHARS:
        shown = shown[: MAX_URL_CHARS - 1] + "…"
    return shown


def log_url(url: str) -> str:
    """What may go to the log: scheme, host and path — no credentials, query or data."""
    if url[:5].lower() == "data:":
        return "data:…"
    try:
        parts = urlsplit(url)
        return urlunsplit((parts.scheme, parts.netloc.rpartition("@")[2], parts.path, "", ""))
    except ValueError:
        return "<invalid URL>"


def bad_input(message: str, code: str) -> InvalidRequest:
    """A 400 about a file part (the part name is added later by :func:`for_part`)."""
    return InvalidRequest(message, code=code)


def too_large(what: str, limit: int) -> PayloadTooLarge:
    """A 413 that states the limit and the setting that raises it."""
    return PayloadTooLarge(
        f"{what} is larger than the limit of {describe_size(limit)} (KIMIPROXY_MAX_FILE_BYTES)",
        code="file_too_large",
    )


def for_part(error: KimiProxyError, where: str) -> KimiProxyError:
    """The same error (class, status, code) with ``where`` (``messages[2].content[1]``) as its
    ``param`` and at the start of its message."""
    if error.param == where and error.message.startswith(f"{where}: "):
        return error
    named = copy.copy(error)
    named.message = f"{where}: {error.message}"
    named.args = (named.message,)
    named.param = where
    return named
