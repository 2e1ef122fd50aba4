"""``GET /v1/models`` and ``GET /v1/models/{id}``: the models the configured protocol supports."""

from __future__ import annotations

from flask import Blueprint, jsonify

from kimiproxy.api.state import proxy_state
from kimiproxy.chat.model_names import known_model, listed_models
from kimiproxy.errors import NotFound

bp = Blueprint("models", __name__)
CREATED = 1_700_000_000  # a fixed timestamp: the list does not change between calls


def _model(model_id: str) -> dict:
    return {"id": model_id, "object": "model", "created": CREATED, "owned_by": "moonshot"}


@bp.get("/models")
def list_models():
    protocol = proxy_state().settings.protocol
    return jsonify({"object": "list", "data": [_model(m) for m in listed_models(protocol)]})


@bp.get("/models/<path:model_id>")
def retrieve_model(model_id: str):
    if not known_model(model_id, proxy_state().settings.protocol):
        raise NotFound(
            f"The model '{model_id}' does not exist", param="model", code="model_not_found"
        )
    return jsonify(_model(model_id))
