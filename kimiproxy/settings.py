"""Settings: one frozen, typed :class:`Settings` object, read and checked once.

Each field is a ``KIMIPROXY_<NAME>`` environment variable. ``load_config(overrides)`` starts from
the defaults, applies the environment, then ``overrides`` (``create_app(config)``), coercing
strings the same way for both. An unknown override, or a value that does not fit, raises
:class:`SettingsError`, whose message is one line naming the variable; the command line prints
it and exits 2 before anything listens.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from kimiproxy.allow_list import AllowList, parse_allow_list

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
        return load_config({**self.as_overrides(), **changes}, environ={})

    def as_overrides(self) -> dict[str, object]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def __repr__(self) -> str:  # API keys and Kimi tokens are secrets
        shown = []
        for spec in fields(self):
            value = getattr(self, spec.name)
            if spec.metadata["kind"] == "tokens":
                shown.append(f"{spec.name}=<{len(value)} hidden>")
            else:
                shown.append(f"{spec.name}={value!r}")
        return f"Settings({', '.join(shown)})"


FIELDS = {f.name: f for f in fields(Settings)}


def setting_names() -> list[str]:
    """Every ``KIMIPROXY_*`` variable the settings read."""
    return [ENV_PREFIX + name.upper() for name in FIELDS]


def _coerce(name: str, value: object) -> object:
    spec = FIELDS[name]
    meta, kind = spec.metadata, spec.metadata["kind"]
    if kind == "bool":
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in ("1", "true", "yes", "on"):
            return True
        if text in ("0", "false", "no", "off", ""):
            return False
        raise SettingsError(name, f"must be true or false, not {_short(value)}")
    if kind in ("int", "float"):
        number = _number(name, value, int if kind == "int" else float)
        if "minimum" in meta and number < meta["minimum"]:
            raise SettingsError(name, f"must be at least {meta['minimum']}, not {number}")
        if "maximum" in meta and number > meta["maximum"]:
            raise SettingsError(name, f"must be at most {meta['maximum']}, not {number}")
        return number
    if kind in ("list", "tokens"):
        items = _items(name, value)
        if kind == "tokens" and not all(TOKEN_SHAPE.match(item) for item in items):
            raise SettingsError(name, "each entry must be printable ASCII without spaces")
        return items
    if kind == "allow":
        if isinstance(value, AllowList):
            return value
        try:
            return parse_allow_list(_text(name, value))
        except ValueError as exc:
            raise SettingsError(name, str(exc).removeprefix(ENV_PREFIX + "FETCH_ALLOW: ")) from None
    text = _text(name, value).strip()
    if kind == "choice":
        chosen = text.upper() if meta.get("upper") else text.lower()
        if chosen not in meta["choices"]:
            raise SettingsError(
                name, f"must be one of {', '.join(meta['choices'])}, not {_short(value)}"
            )
        return chosen
    if kind == "url" and text and not re.match(r"^https?://[^\s/]+", text):
        raise SettingsError(name, f"must be an http(s) URL, not {_short(value)}")
    return text


def _number(name: str, value: object, kind: type) -> int | float:
    if isinstance(value, bool):
        raise SettingsError(name, f"must be a number, not {value}")
    if isinstance(value, (int, float)) and (kind is float or isinstance(value, int)):
        number = kind(value)
    else:
        try:
            number = kind(str(value).strip())
        except ValueError:
            what = "a whole number" if kind is int else "a number"
            raise SettingsError(name, f"must be {what}, not {_short(value)}") from None
    if number != number or number in (float("inf"), float("-inf")):
        raise SettingsError(name, f"must be a finite number, not {_short(value)}")
    return number


def _items(name: str, value: object) -> tuple[str, ...]:
    if isinstance(value, (list, tuple)):
        parts = [_text(name, v) for v in value]
    else:
        parts = _text(name, value).split(",")
    return tuple(part.strip() for part in parts if part.strip())


def _text(name: str, value: object) -> str:
    if not isinstance(value, str):
        raise SettingsError(name, f"must be text, not {type(value).__name__}")
    return value


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "...'"


def _check_accounts(settings: Settings) -> None:
    if settings.kimi_tokens and not settings.api_keys:
        raise SettingsError(
            "kimi_tokens",
            "needs KIMIPROXY_API_KEYS, or anyone who can reach the proxy would use those "
            "Kimi accounts",
        )
    if settings.api_keys and not settings.kimi_tokens:
        raise SettingsError("api_keys", "needs KIMIPROXY_KIMI_TOKENS: the Kimi accounts to use")


def load_config(
    overrides: Mapping[str, object] | None = None, environ: Mapping[str, str] | None = None
) -> Settings:
    """Defaults, then ``KIMIPROXY_*`` from ``environ`` (the process environment by default),
    then ``overrides`` (names with or without the prefix, any case), all checked."""
    environ = os.environ if environ is None else environ
    values: dict[str, object] = {}
    for name in FIELDS:
        if ENV_PREFIX + name.upper() in environ:
            values[name] = environ[ENV_PREFIX + name.upper()]
    unknown = []
    for key, value in (overrides or {}).items():
        name = str(key).upper().removeprefix(ENV_PREFIX).lower()
        if name not in FIELDS:
            unknown.append(str(key))
            continue
        values[name] = value
    if unknown:
        raise SettingsError(
            unknown[0].upper().removeprefix(ENV_PREFIX),
            f"is not a setting (unknown: {', '.join(unknown)})",
        )
    settings = Settings(**{name: _coerce(name, value) for name, value in values.items()})
    _check_accounts(settings)
    return settings


def unknown_environment(environ: Mapping[str, str] | None = None) -> list[str]:
    """``KIMIPROXY_*`` variables in the environment that are no setting (likely misspelt)."""
    environ = os.environ if environ is None else environ
    known = set(setting_names())
    return sorted(k for k in environ if k.startswith(ENV_PREFIX) and k not in known)
