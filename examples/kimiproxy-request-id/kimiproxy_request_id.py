"""kimiproxy-request-id: every chat answer carries the id kimiproxy logs its request under.

kimiproxy names each chat request in its log lines (``request 3f2a9c0b1d4e: model=kimi …``). This
plugin sends that id back in a response header, ``X-Request-Id`` (or the name in the
``REQUEST_ID_HEADER`` environment variable), so someone reporting a bad answer can quote the id
and the operator finds its log lines (a failed attempt, a stream cut off, …).

Two hooks: ``kimiproxy_startup`` checks the header name and adds the ``after_request`` handler;
``kimiproxy_prepare_request`` notes the id of the request being answered.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING

from flask import Flask, Response, g, has_request_context

from kimiproxy import hookimpl

if TYPE_CHECKING:
    from kimiproxy.chat.context import ChatContext
    from kimiproxy.chat.request import ChatRequest
    from kimiproxy.settings import Settings

HEADER_VARIABLE = "REQUEST_ID_HEADER"
DEFAULT_HEADER = "X-Request-Id"
# An HTTP field name (RFC 9110's token), kept to letters, digits and dashes.
HEADER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,63}$")


def header_name(environ: Mapping[str, str] = os.environ) -> str:
    """The header to send the id in; a name that is not one stops kimiproxy from starting."""
    name = environ.get(HEADER_VARIABLE, "").strip() or DEFAULT_HEADER
    if not HEADER_NAME.match(name):
        raise ValueError(f"{HEADER_VARIABLE}: {name[:40]!r} is not an HTTP header name")
    return name


@hookimpl
def kimiproxy_startup(app: Flask, settings: Settings) -> None:
    header = header_name()

    @app.after_request
    def send_request_id(response: Response) -> Response:
        request_id = g.get("kimiproxy_request_id")
        if request_id:
            response.headers[header] = request_id
        return response


@hookimpl(tryfirst=True)
def kimiproxy_prepare_request(request: ChatRequest, context: ChatContext) -> None:
    """First, so the id is noted even when a later plugin refuses the request."""
    if has_request_context():  # the chat core may also run outside an HTTP request
        g.kimiproxy_request_id = context.request_id
