"""``rest`` calls to Kimi's REST API. Like the web page, every call carries the account's user
id as ``X-Traffic-Id``: the access token's ``sub`` claim when it has one (the transport sends
it), else the id ``GET /api/user`` says, read once per credential."""

from __future__ import annotations

import logging
import threading
from typing import Any

import requests

from kimiproxy.errors import KimiProxyError, RateLimited, UpstreamTimeout
from kimiproxy.upstream.tokens import fingerprint, identity_headers
from kimiproxy.upstream.transport import Transport, parse_json

log = logging.getLogger(__name__)

# Callers may bring ever-new credentials; past this many remembered user ids, start over.
TRAFFIC_ID_CACHE_SIZE = 4096
TRAFFIC_ID = "X-Traffic-Id"


class RestApi:
    """:class:`Transport` calls with the ``X-Traffic-Id`` header added."""

    def __init__(self, transport: Transport):
        self.transport = transport
        self._traffic_ids: dict[str, str] = {}
        self._lock = threading.Lock()

    def send(self, credential: str, method: str, path: str, **kwargs: Any) -> requests.Response:
        """:meth:`Transport.send` with the account's ``X-Traffic-Id``."""
        # The token first: a refresh that fails (or hangs) fails this call, once.
        access = self.transport.tokens.get(credential)
        if TRAFFIC_ID not in identity_headers(access):
            traffic_id = self.traffic_id(credential)
            if traffic_id:
                kwargs["headers"] = {TRAFFIC_ID: traffic_id, **(kwargs.get("headers") or {})}
        return self.transport.send(credential, method, path, **kwargs)

    def json(self, credential: str, method: str, path: str, **kwargs: Any) -> Any:
        """:meth:`send`, then the JSON body (a non-JSON success body is an upstream error)."""
        return parse_json(self.send(credential, method, path, **kwargs), f"{method} {path}")

    def traffic_id(self, credential: str) -> str | None:
        """The account's user id (``GET /api/user``), cached; ``None`` if Kimi would not say."""
        traffic_id = self._traffic_ids.get(credential)
        if traffic_id:
            return traffic_id
        try:
            user = self.transport.json(credential, "GET", "/api/user")
        except (RateLimited, UpstreamTimeout):
            # A Kimi that does not answer this call would keep the next one waiting as long.
            raise
        except KimiProxyError as error:
            if error.status == 401:
                raise
            # Whether Kimi needs this header is unknown; an answer without it beats no answer.
            log.warning(
                "could not read the user id of credential %s: %s", fingerprint(credential), error
            )
            return None
        traffic_id = str(user.get("id") or "") if isinstance(user, dict) else ""
        if traffic_id:
            with self._lock:
                if len(self._traffic_ids) > TRAFFIC_ID_CACHE_SIZE:
                    self._traffic_ids.clear()
                self._traffic_ids[credential] = traffic_id
        return traffic_id or None
