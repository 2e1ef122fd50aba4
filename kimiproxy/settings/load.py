"""Reading the settings: defaults, then the environment, then explicit overrides, all coerced
and checked, with the checks that span several settings."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import fields

from kimiproxy.settings.coerce import coerce
from kimiproxy.settings.model import ENV_PREFIX, FIELDS, Settings, SettingsError, setting_names


def _check_accounts(settings: Settings) -> None:
    if (settings.kimi_tokens or settings.tokens_file) and not settings.server_held_accounts:
        variable = "kimi_tokens" if settings.kimi_tokens else "tokens_file"
        raise SettingsError(
            variable,
            "needs KIMIPROXY_API_KEYS (or KIMIPROXY_API_KEYS_FILE), or anyone who can reach the "
            "proxy would use those Kimi accounts",
        )


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
    settings = Settings(**{name: coerce(name, value) for name, value in values.items()})
    _check_accounts(settings)
    return settings


def unknown_environment(environ: Mapping[str, str] | None = None) -> list[str]:
    """``KIMIPROXY_*`` variables in the environment that are no setting (likely misspelt)."""
    environ = os.environ if environ is None else environ
    known = set(setting_names())
    return sorted(k for k in environ if k.startswith(ENV_PREFIX) and k not in known)


def replace_settings(settings: Settings, **changes: object) -> Settings:
    """A copy of ``settings`` with ``changes`` (setting names, any case), checked like
    overrides."""
    current = {spec.name: getattr(settings, spec.name) for spec in fields(settings)}
    return load_config({**current, **changes}, environ={})
