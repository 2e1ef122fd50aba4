"""``POST /token/check``: whether a Kimi token still works, as kimi-free-api users check it."""

from __future__ import annotations

from flask import Blueprint, jsonify

from kimiproxy.api.json_body import read_json_body
from kimiproxy.api.state import proxy_state
from kimiproxy.errors import InvalidRequest
from kimiproxy.settings import TOKEN_SHAPE

bp = Blueprint("token", __name__)


@bp.post("/token/check")
def check_token():
    body = read_json_body()
    token = body.get("token") if isinstance(body, dict) else None
    if not isinstance(token, str) or not TOKEN_SHAPE.match(token.strip()):
        raise InvalidRequest(
            'send {"token": "<Kimi refresh token or access token>"}: printable ASCII, no spaces',
            param="token",
        )
    return jsonify({"live": proxy_state().client.check_token(token.strip())})
