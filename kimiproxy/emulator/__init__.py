"""The Kimi emulator: a Flask app speaking both Kimi web protocols, ``rest`` (REST + SSE) and
``connect`` (Connect RPC), with scripted replies, injectable faults and a control API under
``/_emulator``.

See ``docs/emulator.md``. Run it with one worker: its state lives in process memory.
"""

from __future__ import annotations

from flask import Flask, request
from werkzeug.exceptions import HTTPException

from kimiproxy.emulator import control_api
from kimiproxy.emulator.connect import chat as connect_api
from kimiproxy.emulator.connect import unary as connect_unary
from kimiproxy.emulator.errors import connect_error, rest_error
from kimiproxy.emulator.recording import record_call
from kimiproxy.emulator.rest import api as rest_api
from kimiproxy.emulator.rest import completion as rest_completion
from kimiproxy.emulator.rest import files as rest_files
from kimiproxy.emulator.state import EXTENSION_KEY, EmulatorState

__all__ = ["create_emulator_app"]


def _unrouted(exc: HTTPException):
    """Unknown paths and methods answer in the style of the protocol the path belongs to."""
    path = request.path
    if path.startswith("/apiv2"):
        return connect_error("unimplemented", f"{path} is not implemented", exc.code)
    if path.startswith("/api/"):
        return rest_error(exc.code or 404, "api.not_found", exc.name, {"path": path})
    return exc


def create_emulator_app(options: dict | None = None) -> Flask:
    """A fresh emulator app with its own empty state.

    ``options`` overrides defaults such as ``research_total`` (20), ``parse_polls`` (2),
    ``chunk_size`` (8), ``split_bytes`` (5), ``slow_chunk_delay`` (0.5),
    ``parse_hang_seconds`` (5.0) and ``one_stream_per_account`` (True); an unknown key or a
    value of the wrong type raises ``ValueError``.
    """
    app = Flask(__name__, static_folder=None)
    app.json.sort_keys = False
    app.json.ensure_ascii = False
    app.extensions[EXTENSION_KEY] = EmulatorState(options)
    app.before_request(record_call)
    for module in (rest_api, rest_completion, rest_files, connect_api, connect_unary, control_api):
        app.register_blueprint(module.bp)
    app.register_error_handler(404, _unrouted)
    app.register_error_handler(405, _unrouted)
    return app
