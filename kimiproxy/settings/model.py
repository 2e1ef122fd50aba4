"""The settings themselves: the frozen :class:`Settings` dataclass, one field per
``KIMIPROXY_*`` variable with its default, meaning, kind and limits."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, fields
from typing import Any

from kimiproxy.allow_list import AllowList

ENV_PREFIX = "KIMIPROXY_"
DEFAULT_AUTH_UPSTREAM = "https://auth.kimi.com"
DEFAULT_UPSTREAMS = {"connect": "https://www.kimi.com", "rest": "https://kimi.moonshot.cn"}
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
# Tokens travel in HTTP headers: visible ASCII only.
TOKEN_SHAPE = re.compile(r"^[\x21-\x7e]{1,8192}$")


class SettingsError(ValueError):
    """A setting that cannot be used; ``str()`` is one line that names the variable."""

    def __init__(self, name: str, problem: str):
        self.variable = ENV_PREFIX + name.upper()
        super().__init__(f"{self.variable}: {problem}")


def _without_password(url: str) -> str:
    """A store URL fit to show: ``redis://:pw@host`` as ``redis://:***@host``."""
    return re.sub(r"(://[^/@:]*:)[^/@]*@", r"\1***@", url)


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
    api_keys_file: str = _setting("", "file of client keys, one per line", "str")
    operator_keys: tuple[str, ...] = _setting(
        (), "keys for the account endpoints (comma-separated)", "tokens"
    )
    tokens_file: str = _setting("", "file of server-held Kimi tokens, one per line", "str")
    # -- accounts -----------------------------------------------------------------------------
    state: str = _setting("", "where shared state lives: sqlite:///path or redis://host", "state")
    data_dir: str = _setting("./.kimiproxy", "directory of the embedded state database", "str")
    secret_key: str = _setting("", "encrypts stored tokens when set", "secret")
    auth_upstream: str = _setting("", "base URL of Kimi's token refresh service", "url")
    strategy: str = _setting("random", "how an account is chosen", "str")
    account_min_interval: float = _setting(
        0.0, "seconds between two answers on one account", "float", minimum=0
    )
    lease_ttl: float = _setting(
        15.0, "seconds an account lease lives unless renewed", "float", minimum=1
    )
    refresh_margin: float = _setting(
        180.0, "seconds before expiry an access token is refreshed", "float", minimum=0
    )
    max_attempts: int = _setting(
        4, "accounts tried for one request before giving up", "int", minimum=1
    )
    max_cooldown: float = _setting(
        3600.0, "longest cool-down of a throttled account, seconds", "float", minimum=1
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
    bind: str = _setting("", "host:port to listen on (overrides HOST and PORT)", "bind")
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
        return bool(self.api_keys or self.api_keys_file)

    @property
    def auth_upstream_url(self) -> str:
        """Where tokens are refreshed: ``auth_upstream``; by default Kimi's auth host for the
        live site, or the ``upstream`` itself when that points elsewhere (an emulator)."""
        if self.auth_upstream:
            return self.auth_upstream.rstrip("/")
        if self.upstream:
            return self.upstream_url
        return DEFAULT_AUTH_UPSTREAM

    def __repr__(self) -> str:  # API keys and Kimi tokens are secrets
        shown = []
        for spec in fields(self):
            value = getattr(self, spec.name)
            if spec.metadata["kind"] == "tokens":
                shown.append(f"{spec.name}=<{len(value)} hidden>")
            elif spec.metadata["kind"] == "state":
                shown.append(f"{spec.name}={_without_password(value)!r}")
            elif spec.metadata["kind"] == "secret":
                shown.append(f"{spec.name}=<{'set' if value else 'unset'}>")
            else:
                shown.append(f"{spec.name}={value!r}")
        return f"Settings({', '.join(shown)})"


FIELDS = {f.name: f for f in fields(Settings)}


def setting_names() -> list[str]:
    """Every ``KIMIPROXY_*`` variable the settings read."""
    return [ENV_PREFIX + name.upper() for name in FIELDS]
