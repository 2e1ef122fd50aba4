"""HTTP sessions that look like a tab of Kimi's web page: a browser ``User-Agent``, the page's
``X-Msh-*`` headers, and a connection pool sized for a gevent worker's many greenlets. See
``docs/kimi-protocol.md``, "Identity headers" and "Request headers"."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from http.cookiejar import DefaultCookiePolicy
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter

if TYPE_CHECKING:
    from kimiproxy.settings import Settings

BROWSER_USER_AGENT = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Safari/537.36"
)
# gevent workers serve many requests per process; a pool this large keeps connections to the
# single upstream host reusable instead of opening one per request.
POOL_SIZE = 64


def origin_of(url: str) -> str:
    """``https://host:port/path`` → ``https://host:port`` (what a browser sends as Origin)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def timeouts(settings: Settings) -> tuple[float, float]:
    """``(connect, read)`` seconds for requests, from ``CONNECT_TIMEOUT`` / ``READ_TIMEOUT``."""
    return settings.connect_timeout, settings.read_timeout


def make_session(headers: Mapping[str, str] | None = None) -> requests.Session:
    """A session with a connection pool sized for many concurrent greenlets and the given
    default headers. Never put ``Authorization`` in ``headers``: tokens are set per request so a
    session can serve every account."""
    session = requests.Session()
    # One session serves every account: a cookie Kimi sets for one must never reach another.
    session.cookies.set_policy(DefaultCookiePolicy(allowed_domains=[]))
    adapter = HTTPAdapter(pool_connections=4, pool_maxsize=POOL_SIZE, max_retries=0)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    session.headers.update({"User-Agent": BROWSER_USER_AGENT})
    session.headers.update(headers or {})
    return session


def browser_headers(origin: str) -> dict[str, str]:
    """The headers the web page sends with every call."""
    # Kimi ties a browser session to these ids; random per client, like a fresh browser tab.
    # A request whose access token carries device_id and ssid claims sends those instead.
    return {
        "X-Msh-Platform": "web",
        "X-Msh-Device-Id": str(7 * 10**18 + secrets.randbelow(10**18)),
        "X-Msh-Session-Id": str(17 * 10**17 + secrets.randbelow(10**17)),
        "R-Timezone": "Asia/Shanghai",
        "Origin": origin,
        "Referer": origin + "/",
    }


def browser_session(
    origin: str,
    extra_headers: Mapping[str, str] | None = None,
    session: requests.Session | None = None,
) -> requests.Session:
    """A new pooled session (or ``session``, e.g. a test's) carrying :func:`browser_headers`
    for ``origin`` plus ``extra_headers``."""
    headers = browser_headers(origin) | dict(extra_headers or {})
    if session is None:
        return make_session(headers)
    session.headers.update(headers)
    return session
