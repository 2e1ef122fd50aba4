"""Settings: defaults, overridden by ``KIMIPROXY_*`` environment variables, then by
``create_app(config)``."""

from __future__ import annotations

import os
from collections.abc import Mapping

ENV_PREFIX = "KIMIPROXY_"
DEFAULT_UPSTREAMS = {"connect": "https://www.kimi.com", "rest": "https://kimi.moonshot.cn"}

DEFAULTS: dict[str, object] = {
    # Which Kimi web protocol generation to speak: "connect" (www.kimi.com) or "rest".
    "PROTOCOL": "connect",
    # Base URL of the Kimi web API; empty means the protocol's own host.
    "UPSTREAM": "",
    # Seconds to wait for Kimi to accept a connection / to send the next bytes.
    "CONNECT_TIMEOUT": 10.0,
    "READ_TIMEOUT": 120.0,
    # How many times an answer cut by Kimi's output cap ("length") is continued.
    "MAX_CONTINUATIONS": 5,
    # Seconds a generation A access token is reused before it is refreshed again.
    "ACCESS_TOKEN_TTL": 300.0,
    # Largest request body accepted, in bytes.
    "MAX_BODY_BYTES": 20 * 1024 * 1024,
    # Remove search citations from answers for every request.
    "STRIP_CITATIONS": False,
    # Answers one Kimi account streams at a time in a worker (Kimi allows one; 0: no limit), and
    # seconds a request waits for one of its accounts to come free.
    "ACCOUNT_CONCURRENCY": 1,
    "ACCOUNT_WAIT": 60.0,
    # Comma-separated keys clients must present; when set, KIMI_TOKENS are the Kimi accounts used.
    "API_KEYS": "",
    "KIMI_TOKENS": "",
    # Comma-separated plugin names not to load.
    "DISABLE_PLUGINS": "",
    # Load third-party plugins from the "kimiproxy" entry-point group.
    "LOAD_ENTRYPOINT_PLUGINS": True,
    # Files and images (content parts): size cap and transfer timeouts, in bytes and seconds.
    "MAX_FILE_BYTES": 100 * 1024 * 1024,
    "FETCH_CONNECT_TIMEOUT": 10.0,
    "FETCH_READ_TIMEOUT": 30.0,
    "FETCH_TOTAL_TIMEOUT": 120.0,
    "FETCH_MAX_REDIRECTS": 5,
    # Hosts and CIDR networks that may be fetched although they are not public addresses.
    "FETCH_ALLOW": "",
    # Seconds to wait for an uploaded file to be parsed upstream.
    "FILE_PARSE_TIMEOUT": 60.0,
    # Origins browsers may call the API from ("*" for any, empty to send no CORS headers).
    "CORS_ORIGINS": "*",
    "LOG_LEVEL": "INFO",
}


def _coerce(name: str, raw: str, default: object) -> object:
    if isinstance(default, bool):
        value = raw.strip().lower()
        if value in ("1", "true", "yes", "on"):
            return True
        if value in ("0", "false", "no", "off", ""):
            return False
        raise ValueError(f"{ENV_PREFIX}{name} must be true or false, not {raw!r}")
    try:
        if isinstance(default, int):
            return int(raw)
        if isinstance(default, float):
            return float(raw)
    except ValueError:
        raise ValueError(f"{ENV_PREFIX}{name} must be a number, not {raw!r}") from None
    return raw


def load_config(
    overrides: Mapping[str, object] | None = None, environ: Mapping[str, str] | None = None
) -> dict:
    """Merge defaults, the environment and explicit overrides into one settings dict."""
    environ = os.environ if environ is None else environ
    config = dict(DEFAULTS)
    for name, default in DEFAULTS.items():
        if ENV_PREFIX + name in environ:
            config[name] = _coerce(name, environ[ENV_PREFIX + name], default)
    for name, value in (overrides or {}).items():
        config[name.removeprefix(ENV_PREFIX)] = value
    if config["PROTOCOL"] not in DEFAULT_UPSTREAMS:
        raise ValueError(
            f"{ENV_PREFIX}PROTOCOL must be 'connect' or 'rest', not {config['PROTOCOL']!r}"
        )
    config["UPSTREAM"] = (config["UPSTREAM"] or DEFAULT_UPSTREAMS[config["PROTOCOL"]]).rstrip("/")
    return config


def split_list(value: object) -> list[str]:
    """``"a, b,,c"`` → ``["a", "b", "c"]``; lists pass through."""
    if isinstance(value, (list, tuple)):
        return [str(v).strip() for v in value if str(v).strip()]
    return [part.strip() for part in str(value or "").split(",") if part.strip()]
