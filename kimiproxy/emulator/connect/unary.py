"""``connect`` unary RPCs (plain JSON in and out) and the multipart file upload."""

from __future__ import annotations

import time

from flask import Blueprint, abort, jsonify, request

from kimiproxy.emulator.auth import connect_account
from kimiproxy.emulator.bodies import BodyError, request_json_object
from kimiproxy.emulator.errors import connect_error
from kimiproxy.emulator.faults import marker_fault
from kimiproxy.emulator.fixtures import available_models, subscription
from kimiproxy.emulator.ids import new_id, now_iso
from kimiproxy.emulator.records import Chat, StoredFile
from kimiproxy.emulator.state import get_state
from kimiproxy.emulator.uploads import drain, hash_stream, mime_for

bp = Blueprint("kimi_connect_unary", __name__)
_CHAT = "/apiv2/kimi.chat.v1.ChatService"
_GATEWAY_CHAT = "/apiv2/kimi.gateway.chat.v1.ChatService"


def unary_body() -> dict:
    """The request JSON object (an empty body counts as ``{}``); ``invalid_argument`` otherwise."""
    try:
        return request_json_object(empty={})
    except BodyError as exc:
        abort(connect_error("invalid_argument", f"request body: {exc}"))


def _owned_chat(body: dict, account: str) -> Chat:
    chat_id = body.get("chat_id") or body.get("chatId")
    if not isinstance(chat_id, str) or not chat_id:
        abort(connect_error("invalid_argument", "chat_id is required"))
    chat = get_state().find_chat(chat_id)
    if chat is None or chat.deleted:
        abort(connect_error("not_found", f"chat {chat_id} not found"))
    if chat.account != account:
        abort(connect_error("permission_denied", f"chat {chat_id} belongs to another account"))
    return chat


def _page_size(body: dict, default: int) -> int:
    size = body.get("page_size", body.get("pageSize"))
    return size if isinstance(size, int) and size > 0 else default


@bp.post(f"{_CHAT}/DeleteChat")
def delete_chat():
    account = connect_account()
    chat = _owned_chat(unary_body(), account)
    get_state().delete_chat(chat.id)
    return jsonify({})


@bp.post(f"{_CHAT}/ListChats")
def list_chats():
    account = connect_account()
    body = unary_body()
    chats = get_state().live_chats(account)[: _page_size(body, 20)]
    return jsonify(chats=chats, nextPageToken="")


@bp.post(f"{_GATEWAY_CHAT}/ListMessages")
def list_messages():
    account = connect_account()
    body = unary_body()
    chat = _owned_chat(body, account)
    messages = get_state().messages(chat.id, _page_size(body, 50))
    return jsonify(messages=messages, nextPageToken="")


@bp.post("/apiv2/kimi.gateway.config.v1.ConfigService/GetAvailableModels")
def get_available_models():
    connect_account()
    unary_body()
    return jsonify(available_models())


@bp.post("/apiv2/kimi.gateway.order.v1.SubscriptionService/GetSubscription")
def get_subscription():
    account = connect_account()
    unary_body()
    return jsonify(subscription(account))


@bp.post("/apiv2-files/file/upload")
def upload_file():
    account = connect_account()
    state = get_state()
    upload = request.files.get("file")
    if upload is None:
        abort(connect_error("invalid_argument", "multipart field 'file' is required"))
    name = upload.filename or "file"
    fault = marker_fault(name, "file") or state.take_fault("file")
    if fault == "upload_fail":
        drain(upload.stream)
        return connect_error("internal", "upload failed")
    size, digest = hash_stream(upload.stream)
    mime = mime_for(name, upload.mimetype)
    status = {"parse_fail": "failed", "parse_hang": "initializing"}.get(fault or "", "parsed")
    stored = StoredFile(
        id=new_id("d3"),
        account=account,
        protocol="connect",
        kind="image" if mime.startswith("image/") else "file",
        name=name,
        fault=fault,
        mime=mime,
        size=size,
        sha256=digest,
        status=status,
        uploaded=True,
    )
    state.add_file(stored)
    if fault == "parse_fail":
        return connect_error("failed_precondition", "file parse failed")
    if fault == "parse_hang":
        # The upload answers only once parsing is done, so a hung parse holds the response.
        time.sleep(float(state.options["parse_hang_seconds"]))
        return connect_error("deadline_exceeded", "file parse timed out")
    return jsonify(
        file={
            "id": stored.id,
            "name": name,
            "size": size,
            "mimeType": mime,
            "createTime": now_iso(),
        }
    )
