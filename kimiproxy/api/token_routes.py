"""``POST /token/check``: whether a Kimi token still works, as kimi-free-api users check it."""

from __future__ import annotations

from flask import Blueprint, jsonify, request

from ..errors import InvalidRequest
from ..state import proxy_state

bp = Blueprint("token", __name__)


@bp.post("/token/check")
def check_token():
    body = request.get_json(silent=True, force=True)
    token = body.get("token") if isinstance(body, dict) else None
    if not isinstance(token, str) or not token.strip():
        raise InvalidRequest(
            'send {"token": "<Kimi refresh token or access token>"}', param="token"
        )
    return jsonify({"live": proxy_state().client.check_token(token.strip())})
