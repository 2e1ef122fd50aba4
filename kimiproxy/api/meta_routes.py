"""Service routes: ``/ping`` for simple health checks (open to all) and ``/-/plugins`` for
introspection."""

from __future__ import annotations

from flask import Blueprint, jsonify

from kimiproxy.api.access import open_route
from kimiproxy.api.state import proxy_state
from kimiproxy.hooks.manager import describe_plugins

bp = Blueprint("meta", __name__)


@bp.get("/ping")
@open_route
def ping():
    return "pong", 200, {"Content-Type": "text/plain; charset=utf-8"}


@bp.get("/-/plugins")
def plugins():
    return jsonify({"plugins": describe_plugins(proxy_state().pm)})
