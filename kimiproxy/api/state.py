"""The per-app state kept in ``app.extensions["kimiproxy"]``."""

from __future__ import annotations

from dataclasses import dataclass

import pluggy
from flask import current_app

from kimiproxy.chat.core import ChatCore
from kimiproxy.settings import Settings
from kimiproxy.upstream import UpstreamClient


@dataclass
class ProxyState:
    settings: Settings
    pm: pluggy.PluginManager
    client: UpstreamClient
    core: ChatCore


def proxy_state() -> ProxyState:
    return current_app.extensions["kimiproxy"]
