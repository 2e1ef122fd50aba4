"""The settings themselves: the frozen :class:`Settings` dataclass, one field per
``KIMIPROXY_*`` variable with its default, meaning, kind and limits."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, fields
from typing import Any

from kimiproxy.allow_list import AllowList

ENV_PREFIX = "KIMIPROXY_"
DEFAULT_UPSTREAMS = {"connect": "https://www.kimi.com", "rest": "https://kimi.moonshot.cn"}
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
# Tokens travel in HTTP headers: visible ASCII only.
TOKEN_SHAPE = re.compile(r"^[\x21-\x7e]{1,8192}$")


class SettingsError(ValueError):
    """A setting that cannot be used; ``str()`` is one line that names the variable."""

    def __init__(self, name: str, problem: str):
        self.variable = ENV_PREFIX + name.upper()
        super().__init__(f"{self.variable}: {problem}")


def _setting(default: Any, doc: str, kind: str, **limits: Any) -> Any:
    return field(default=default, metadata={"doc": doc, "kind": kind, **limits})


@dataclass(frozen=True)
class Settings:
    """Every setting of kimiproxy; the field docs are what the README's settings table says."""

    # -- the Kimi side ------------------------------------------------------------------------
    protocol: str = _setting(
        "connect", "Kimi web protocol: connect or rest", "choice", choices=tuple(DEFAULT_UPSTREAMS)
    )
    upstream: str = _setting("", "Kimi web API base URL (empty: the protocol's own host)", "url")
    connect_timeout: float = _setting(10.0, "seconds to connect to Kimi", "float", minimum=0.001)
    read_timeout: float = _setting(
        120.0, "seconds to wait for Kimi's next bytes", "float", minimum=0.001
    )
    max_continuations: int = _setting(
        5, "continuations of an answer cut by Kimi's cap", "int", minimum=0
    )
    access_token_ttl: float = _setting(
        300.0, "seconds a rest access token is reused", "float", minimum=0.001
    )
    # -- requests -----------------------------------------------------------------------------
    max_body_bytes: int = _setting(
        20 * 1024 * 1024, "largest request body, bytes", "int", minimum=1
    )
    strip_citations: bool = _setting(False, "remove search citations from every answer", "bool")
    account_concurrency: int = _setting(
        1, "answers one account streams at a time (0: any)", "int", minimum=0
    )
    account_wait: float = _setting(
        60.0, "seconds a request waits for a free account", "float", minimum=0
    )
    api_keys: tuple[str, ...] = _setting(
        (), "keys clients must present (comma-separated)", "tokens"
    )
    kimi_tokens: tuple[str, ...] = _setting(
        (), "server-held Kimi tokens (comma-separated)", "tokens"
    )
    write_timeout: float = _setting(
        60.0, "seconds a client may stop reading before it is cut off", "float", minimum=0.1
    )
    # -- plugins ------------------------------------------------------------------------------
    disable_plugins: tuple[str, ...] = _setting((), "plugin names not to load", "list")
    load_entrypoint_plugins: bool = _setting(True, "load third-party plugins", "bool")
    cors_origins: tuple[str, ...] = _setting(("*",), "origins browsers may call from", "list")
    # -- file and image inputs ----------------------------------------------------------------
    max_file_bytes: int = _setting(100 * 1024 * 1024, "largest file part, bytes", "int", minimum=1)
    fetch_connect_timeout: float = _setting(
        10.0, "seconds to connect for a file URL", "float", minimum=0.001
    )
    fetch_read_timeout: float = _setting(
        30.0, "seconds between a file URL's bytes", "float", minimum=0.001
    )
    fetch_total_timeout: float = _setting(
        120.0, "seconds to fetch one file URL", "float", minimum=0.001
    )
    fetch_max_redirects: int = _setting(5, "redirects followed for a file URL", "int", minimum=0)
    fetch_allow: AllowList = _setting(
        AllowList(), "non-public hosts/networks files may come from", "allow"
    )
    file_parse_timeout: float = _setting(
        60.0, "seconds to wait for Kimi to parse a file", "float", minimum=0.001
    )
    # -- hosting (read by gunicorn's configuration) --------------------------------------------
    host: str = _setting("0.0.0.0", "address to listen on", "str")
    port: int = _setting(8000, "port to listen on", "int", minimum=1, maximum=65535)
    bind: str = _setting("", "host:port to listen on (overrides HOST and PORT)", "str")
    workers: int = _setting(2, "gunicorn worker processes", "int", minimum=1)
    worker_connections: int = _setting(1000, "concurrent requests per worker", "int", minimum=1)
    timeout: int = _setting(
        120, "seconds a blocked worker lives before a restart", "int", minimum=1
    )
    graceful_timeout: int = _setting(
        60, "seconds answers get to finish on shutdown", "int", minimum=0
    )
    access_log: str = _setting("-", "access log file (- for stdout, empty for none)", "str")
    log_level: str = _setting("INFO", "log level", "choice", choices=LOG_LEVELS, upper=True)

    @property
    def upstream_url(self) -> str:
        """The Kimi base URL in use: ``upstream``, or the protocol's own host."""
        return (self.upstream or DEFAULT_UPSTREAMS[self.protocol]).rstrip("/")

    @property
    def bind_address(self) -> str:
        return self.bind or f"{self.host}:{self.port}"

    @property
    def server_held_accounts(self) -> bool:
        """Whether the operator holds the Kimi tokens and clients present API keys."""
        return bool(self.api_keys)

    def replace(self, **changes: object) -> Settings:
        """A copy with ``changes`` (setting names, any case), coerced and checked like overrides."""
        from kimiproxy.settings.load import load_config

        return load_config({**self.as_overrides(), **changes}, environ={})

    def as_overrides(self) -> dict[str, object]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def __repr__(self) -> str:  # API keys and Kimi tokens are secrets
        shown = []
        for spec in fields(self):
            value = getattr(self, spec.name)
            if spec.metadata["kind"] == "tokens":
                shown.append(f"{spec.name}=<{len(value)} hidden>")
            elif spec.metadata["kind"] == "secret":
                shown.append(f"{spec.name}=<{'set' if value else 'unset'}>")
            else:
                shown.append(f"{spec.name}={value!r}")
        return f"Settings({', '.join(shown)})"


FIELDS = {f.name: f for f in fields(Settings)}


def setting_names() -> list[str]:
    """Every ``KIMIPROXY_*`` variable the settings read."""
    return [ENV_PREFIX + name.upper() for name in FIELDS]
