"""The per-app state kept in ``app.extensions["kimiproxy"]``."""

from __future__ import annotations

from dataclasses import dataclass

import pluggy
from flask import current_app

from kimiproxy.chat.leases import AccountLeases
from kimiproxy.upstream import UpstreamClient


@dataclass
class ProxyState:
    config: dict
    pm: pluggy.PluginManager
    client: UpstreamClient
    leases: AccountLeases


def proxy_state() -> ProxyState:
    return current_app.extensions["kimiproxy"]
