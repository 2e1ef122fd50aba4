"""``rest`` (REST + SSE) account and chat endpoints: user, chat create/delete/list, research
quota and the side calls a browser makes (the token refresh is in ``refresh_api.py``)."""

from __future__ import annotations

from flask import Blueprint, abort, jsonify

from kimiproxy.emulator.auth import rest_account
from kimiproxy.emulator.errors import rest_error
from kimiproxy.emulator.ids import new_id, now_iso
from kimiproxy.emulator.rest.common import json_body, owned_chat
from kimiproxy.emulator.state import get_state

bp = Blueprint("kimi_rest", __name__)
DEFAULT_CHAT_NAME = "未命名会话"


@bp.get("/api/user")
def user():
    return jsonify(id=rest_account(), name="emulator user")


@bp.post("/api/chat")
def create_chat():
    account = rest_account()
    body = json_body()
    name = body.get("name") if isinstance(body.get("name"), str) else DEFAULT_CHAT_NAME
    chat = get_state().create_chat(new_id("cn"), "rest", account, name or DEFAULT_CHAT_NAME)
    return jsonify(
        id=chat.id,
        name=chat.name,
        kimiplus_id=body.get("kimiplus_id", "kimi"),
        is_example=bool(body.get("is_example", False)),
        status="normal",
        type="chat",
        created_at=chat.created,
        updated_at=chat.created,
    )


@bp.delete("/api/chat/<chat_id>")
def delete_chat(chat_id: str):
    chat = owned_chat(chat_id, rest_account())
    get_state().delete_chat(chat.id)
    return jsonify({})


@bp.get("/api/chat/research/usage")
def research_usage():
    return jsonify(get_state().research_usage(rest_account()))


def _count(body: dict, name: str, default: int) -> int:
    """A non-negative integer field (``default`` when absent); 400 ``request.invalid`` else."""
    if name not in body:
        return default
    value = body[name]
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        detail = f"{name} must be a non-negative integer, not {repr(value)[:40]}"
        abort(rest_error(400, "request.invalid", "请求参数错误", detail))
    return value


@bp.post("/api/chat/list")
def list_chats():
    account = rest_account()
    body = json_body()
    offset = _count(body, "offset", 0)
    size = _count(body, "size", 50)
    chats = get_state().live_chats(account)
    items = [
        {
            "id": c["id"],
            "name": c["name"],
            "created_at": c["createTime"],
            "updated_at": c["updateTime"],
        }
        for c in chats[offset : offset + size]
    ]
    return jsonify(items=items, total=len(chats))


@bp.post("/api/chat/<chat_id>/pre-n2s")
def pre_n2s(chat_id: str):
    owned_chat(chat_id, rest_account())
    return jsonify({})


@bp.post("/api/chat/<chat_id>/token_size")
def token_size(chat_id: str):
    owned_chat(chat_id, rest_account())
    content = json_body().get("content")
    return jsonify(size=len(content) if isinstance(content, str) else 0)


@bp.post("/api/suggestion")
def suggestion():
    rest_account()
    return jsonify(items=[], created_at=now_iso())
