"""The application factory."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from flask import Flask, jsonify
from werkzeug.exceptions import HTTPException

from kimiproxy.api import chat_routes, meta_routes, model_routes, token_routes
from kimiproxy.api.auth import check_auth_settings
from kimiproxy.api.state import ProxyState
from kimiproxy.chat.leases import AccountLeases
from kimiproxy.errors import KimiProxyError
from kimiproxy.hooks.manager import build_plugin_manager
from kimiproxy.settings import load_config
from kimiproxy.upstream import UpstreamClient, make_client

log = logging.getLogger("kimiproxy")
HTTP_ERROR_TYPES = {
    401: "authentication_error",
    404: "invalid_request_error",
    405: "invalid_request_error",
    413: "invalid_request_error",
}


def create_app(
    config: Mapping[str, object] | None = None, client: UpstreamClient | None = None
) -> Flask:
    """Build a kimiproxy app: settings from defaults, ``KIMIPROXY_*`` and ``config``.

    ``client`` replaces the protocol client built from the settings (embedding, unit tests).
    """
    settings = load_config(config)
    check_auth_settings(settings)
    logging.basicConfig(
        level=settings["LOG_LEVEL"], format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    app = Flask("kimiproxy")
    app.config["MAX_CONTENT_LENGTH"] = int(settings["MAX_BODY_BYTES"])
    app.json.ensure_ascii = False
    app.json.sort_keys = False
    pm = build_plugin_manager(settings)
    app.extensions["kimiproxy"] = ProxyState(
        config=settings,
        pm=pm,
        client=client or make_client(settings),
        leases=AccountLeases(per_account=int(settings["ACCOUNT_CONCURRENCY"])),
    )
    for prefix in ("/v1", ""):
        app.register_blueprint(chat_routes.bp, url_prefix=prefix, name=f"chat{prefix}")
        app.register_blueprint(model_routes.bp, url_prefix=prefix, name=f"models{prefix}")
    app.register_blueprint(meta_routes.bp)
    app.register_blueprint(token_routes.bp)
    _register_error_handlers(app)
    pm.hook.kimiproxy_register_routes(app=app)
    return app


def _register_error_handlers(app: Flask) -> None:
    @app.errorhandler(KimiProxyError)
    def proxy_error(error: KimiProxyError):
        response = jsonify(error.to_dict())
        response.status_code = error.status
        if error.retry_after:
            response.headers["Retry-After"] = str(int(error.retry_after))
        return response

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        status = error.code or 500
        message = error.description or error.name
        if status == 413:
            limit = app.config["MAX_CONTENT_LENGTH"]
            message = f"the request body is larger than the {limit}-byte limit (MAX_BODY_BYTES)"
        elif status == 404:
            message = "no such endpoint: see /v1/chat/completions and /v1/models"
        body = {
            "error": {
                "message": message,
                "type": HTTP_ERROR_TYPES.get(
                    status, "invalid_request_error" if status < 500 else "server_error"
                ),
                "param": None,
                "code": error.name.lower().replace(" ", "_"),
            }
        }
        return jsonify(body), status

    @app.errorhandler(Exception)
    def unexpected(error: Exception):
        log.exception("unexpected error")
        body = {
            "error": {
                "message": "the proxy failed to handle the request",
                "type": "server_error",
                "param": None,
                "code": "internal_error",
            }
        }
        return jsonify(body), 500
