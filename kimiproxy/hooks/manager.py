"""Building the plugin manager: the built-in plugins, then third-party ones from entry points."""

from __future__ import annotations

import importlib
import re
from collections.abc import Iterable

import pluggy

from kimiproxy.hooks import specs as hookspecs
from kimiproxy.settings import Settings, SettingsError

PROJECT = "kimiproxy"
DEFAULT_PLUGINS = {
    "random_credential": "kimiproxy_plugins.random_credential",
    "round_robin": "kimiproxy_plugins.round_robin",
    "least_busy": "kimiproxy_plugins.least_busy",
    "file_inputs": "kimiproxy_plugins.file_inputs",
    "citations": "kimiproxy_plugins.citations",
    "chat_cleanup": "kimiproxy_plugins.chat_cleanup",
    "cors": "kimiproxy_plugins.cors",
}


def build_plugin_manager(
    settings: Settings, extra_plugins: Iterable[object] = ()
) -> pluggy.PluginManager:
    """A fresh manager for one app: defaults minus ``DISABLE_PLUGINS``, then entry points, then
    ``extra_plugins`` (objects or modules, registered under their ``__name__``)."""
    pm = pluggy.PluginManager(PROJECT)
    pm.add_hookspecs(hookspecs)
    disabled = set(settings.disable_plugins)
    for name in disabled:
        pm.set_blocked(name)
    for name, module_path in DEFAULT_PLUGINS.items():
        if name not in disabled:
            pm.register(importlib.import_module(module_path), name=name)
    if settings.load_entrypoint_plugins:
        pm.load_setuptools_entrypoints(PROJECT)
    for plugin in extra_plugins:
        name = getattr(plugin, "__name__", None) or type(plugin).__name__
        if not pm.is_blocked(name):
            pm.register(plugin, name=name)
    pm.check_pending()
    if not pm.hook.kimiproxy_select_credential.get_hookimpls():
        raise SettingsError(
            "disable_plugins",
            "no plugin is left to choose an account (kimiproxy_select_credential): "
            "do not disable random_credential without a replacement",
        )
    for implementation in pm.hook.kimiproxy_cleanup.get_hookimpls():
        if implementation.hookwrapper or implementation.wrapper:
            # The core calls each cleanup on its own, so one failing cannot skip the others.
            raise SettingsError(
                "load_entrypoint_plugins",
                f"plugin {implementation.plugin_name} wraps kimiproxy_cleanup, which takes "
                "no wrappers",
            )
    return pm


STRATEGY_NAME = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")


def strategy_names(pm: pluggy.PluginManager) -> list[str]:
    """Every strategy name the loaded plugins declare, sorted; a malformed one stops the start."""
    names: set[str] = set()
    for declared in pm.hook.kimiproxy_selection_strategies():
        for name in declared or ():
            if not isinstance(name, str) or not STRATEGY_NAME.match(name):
                raise SettingsError(
                    "strategy",
                    f"a plugin declares the strategy {name!r}: names are lower-case words "
                    "joined by hyphens",
                )
            names.add(name)
    return sorted(names)


def check_strategy(pm: pluggy.PluginManager, settings: Settings) -> None:
    """Stop the start when ``KIMIPROXY_STRATEGY`` names no strategy a loaded plugin provides."""
    names = strategy_names(pm)
    if settings.strategy not in names:
        raise SettingsError(
            "strategy",
            f"must be one of {', '.join(names) or '(none loaded)'}, not {settings.strategy!r}",
        )


def describe_plugins(pm: pluggy.PluginManager) -> list[dict]:
    """Name, module and hooks of every registered plugin, for ``GET /-/plugins``."""
    described = []
    for name, plugin in pm.list_name_plugin():
        if plugin is None:  # a blocked (disabled) name
            continue
        hooks = sorted(caller.name for caller in pm.get_hookcallers(plugin) or [])
        described.append(
            {
                "name": name,
                "module": getattr(plugin, "__name__", type(plugin).__name__),
                "hooks": hooks,
            }
        )
    return sorted(described, key=lambda p: p["name"])
