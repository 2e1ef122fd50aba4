"""The Kimi emulator: a Flask app speaking both Kimi web protocols, ``rest`` (REST + SSE) and
``connect`` (Connect RPC), with scripted replies, injectable faults and a control API under
``/_emulator``.

See ``docs/emulator.md``. Run it with one worker: its state lives in process memory.
"""

from __future__ import annotations

import re

from flask import Flask, request
from werkzeug.exceptions import HTTPException

from kimiproxy.emulator import control_api, refresh_api
from kimiproxy.emulator.connect import chat as connect_api
from kimiproxy.emulator.connect import unary as connect_unary
from kimiproxy.emulator.errors import connect_error, rest_error
from kimiproxy.emulator.recording import record_call
from kimiproxy.emulator.rest import api as rest_api
from kimiproxy.emulator.rest import completion as rest_completion
from kimiproxy.emulator.rest import files as rest_files
from kimiproxy.emulator.state import EXTENSION_KEY, EmulatorState

__all__ = ["create_emulator_app"]
# A Connect procedure outside /apiv2, such as /api/account.gateway.v1.AuthService/RefreshToken.
_CONNECT_PROCEDURE = re.compile(r"/api/\w+(\.\w+)*\.v\d+\.\w+/\w+")


def _unrouted(exc: HTTPException):
    """Unknown paths and methods answer in the style of the protocol the path belongs to."""
    path = request.path
    if path.startswith("/apiv2") or _CONNECT_PROCEDURE.fullmatch(path):
        return connect_error("unimplemented", f"{path} is not implemented", exc.code)
    if path.startswith("/api/"):
        return rest_error(exc.code or 404, "api.not_found", exc.name, {"path": path})
    return exc


def create_emulator_app(options: dict | None = None) -> Flask:
    """A fresh emulator app with its own empty state.

    ``options`` overrides the defaults in :mod:`kimiproxy.emulator.options`; an unknown key or a
    value of the wrong type raises ``ValueError``.
    """
    app = Flask(__name__, static_folder=None)
    app.json.sort_keys = False
    app.json.ensure_ascii = False
    app.extensions[EXTENSION_KEY] = EmulatorState(options)
    app.before_request(record_call)
    blueprints = (rest_api, rest_completion, rest_files, connect_api, connect_unary, refresh_api)
    for module in (*blueprints, control_api):
        app.register_blueprint(module.bp)
    app.register_error_handler(404, _unrouted)
    app.register_error_handler(405, _unrouted)
    return app
