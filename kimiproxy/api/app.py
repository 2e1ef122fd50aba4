"""The application factory: settings, plugins, the chat core, the routes, then start-up hooks."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from flask import Flask

from kimiproxy.accounts import open_store
from kimiproxy.accounts.directory import AccountDirectory
from kimiproxy.api import (
    account_routes,
    chat_routes,
    health_routes,
    meta_routes,
    model_routes,
    token_routes,
)
from kimiproxy.api.access import register_access_checks
from kimiproxy.api.error_handlers import register_error_handlers
from kimiproxy.api.state import ProxyState
from kimiproxy.chat.core import ChatCore
from kimiproxy.chat.health import AccountHealth
from kimiproxy.chat.leases import AccountLeases
from kimiproxy.hooks.manager import build_plugin_manager, check_strategy
from kimiproxy.pool.watcher import PoolConfig
from kimiproxy.settings import Settings, load_config
from kimiproxy.upstream import UpstreamClient, make_client


def create_app(
    config: Mapping[str, object] | Settings | None = None,
    client: UpstreamClient | None = None,
    plugins: Iterable[object] = (),
) -> Flask:
    """Build a kimiproxy app.

    ``config`` is a :class:`~kimiproxy.settings.Settings`, or overrides applied on top of the
    defaults and ``KIMIPROXY_*``. ``client`` replaces the protocol client built from the
    settings (embedding, tests). ``plugins`` are registered before any hook runs, after the
    built-in and entry-point plugins.
    """
    settings = config if isinstance(config, Settings) else load_config(config)
    app = Flask("kimiproxy")
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    app.json.ensure_ascii = False
    app.json.sort_keys = False
    pm = build_plugin_manager(settings, extra_plugins=plugins)
    check_strategy(pm, settings)
    store = open_store(settings.state, settings.data_dir, secret_key=settings.secret_key or None)
    pool = PoolConfig(settings, store)
    pool.load()
    directory = AccountDirectory(store)
    client = client or make_client(settings, directory)
    leases = AccountLeases(
        store,
        directory.account_of,
        per_account=settings.account_concurrency,
        min_interval=settings.account_min_interval,
        ttl=settings.lease_ttl,
    )
    health = AccountHealth(store, directory.account_of, settings.max_cooldown)
    core = ChatCore(pm, settings, client, leases, health)
    app.extensions["kimiproxy"] = ProxyState(
        settings=settings,
        pm=pm,
        client=client,
        core=core,
        store=store,
        directory=directory,
        pool=pool,
    )
    for prefix in ("/v1", ""):
        app.register_blueprint(chat_routes.bp, url_prefix=prefix, name=f"chat{prefix}")
        app.register_blueprint(model_routes.bp, url_prefix=prefix, name=f"models{prefix}")
    app.register_blueprint(meta_routes.bp)
    app.register_blueprint(health_routes.bp)
    app.register_blueprint(token_routes.bp)
    app.register_blueprint(account_routes.bp)
    register_access_checks(app)
    register_error_handlers(app)
    pm.hook.kimiproxy_register_routes(app=app, settings=settings)
    pm.hook.kimiproxy_startup(app=app, settings=settings)
    pool.start_watching()
    return app
