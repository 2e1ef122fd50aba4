"""Request helpers shared by the ``rest`` protocol's blueprints."""

from __future__ import annotations

from flask import abort

from kimiproxy.emulator.bodies import BodyError, request_json_object
from kimiproxy.emulator.errors import rest_error
from kimiproxy.emulator.records import Chat
from kimiproxy.emulator.state import get_state


def json_body() -> dict:
    """The JSON object body; 400 ``request.invalid`` when there is none (or it is not JSON, or
    nested absurdly deep)."""
    try:
        return request_json_object()
    except BodyError as exc:
        abort(rest_error(400, "request.invalid", "请求参数错误", str(exc)))


def owned_chat(chat_id: str, account: str) -> Chat:
    """The account's live chat, else 404 ``chat.not_found`` (or 403 for another account's)."""
    chat = get_state().find_chat(chat_id)
    if chat is None or chat.deleted:
        abort(rest_error(404, "chat.not_found", "会话不存在", {"chat_id": chat_id}))
    if chat.account != account:
        abort(rest_error(403, "chat.forbidden", "无权访问该会话", {"chat_id": chat_id}))
    return chat
