"""The per-app state kept in ``app.extensions["kimiproxy"]``."""

from __future__ import annotations

from dataclasses import dataclass

import pluggy
from flask import current_app

from kimiproxy.accounts import AccountStore
from kimiproxy.accounts.directory import AccountDirectory
from kimiproxy.chat.core import ChatCore
from kimiproxy.pool.watcher import PoolConfig
from kimiproxy.settings import Settings
from kimiproxy.upstream import UpstreamClient


@dataclass
class ProxyState:
    settings: Settings
    pm: pluggy.PluginManager
    client: UpstreamClient
    core: ChatCore
    store: AccountStore
    directory: AccountDirectory
    pool: PoolConfig


def proxy_state() -> ProxyState:
    return current_app.extensions["kimiproxy"]
