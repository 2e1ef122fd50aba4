"""Settings: one frozen, typed :class:`Settings` object, read and checked once.

Each field is a ``KIMIPROXY_<NAME>`` environment variable. ``load_config(overrides)`` starts from
the defaults, applies the environment, then ``overrides`` (``create_app(config)``), coercing
strings the same way for both. An unknown override, or a value that does not fit, raises
:class:`SettingsError`, whose message is one line naming the variable; the command line prints
it and exits 2 before anything listens.
"""

from kimiproxy.settings.load import load_config, replace_settings, unknown_environment
from kimiproxy.settings.model import (
    DEFAULT_AUTH_UPSTREAM,
    DEFAULT_UPSTREAMS,
    ENV_PREFIX,
    TOKEN_SHAPE,
    Settings,
    SettingsError,
    setting_names,
)

__all__ = [
    "DEFAULT_AUTH_UPSTREAM",
    "DEFAULT_UPSTREAMS",
    "ENV_PREFIX",
    "TOKEN_SHAPE",
    "Settings",
    "SettingsError",
    "load_config",
    "replace_settings",
    "setting_names",
    "unknown_environment",
]
