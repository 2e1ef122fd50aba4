"""``connect`` unary RPCs and the multipart upload."""

from __future__ import annotations

import hashlib


def _new_chat(emu, token, text="hi"):
    _, _, frames = emu.chat_connect(token, text)
    return frames[0][1]["chat"]["id"]


def test_delete_chat_both_spellings(emu):
    token = emu.token()
    for key in ("chat_id", "chatId"):
        chat_id = _new_chat(emu, token)
        response = emu.unary(token, "kimi.chat.v1.ChatService/DeleteChat", {key: chat_id})
        assert response.status_code == 200
        assert response.mimetype == "application/json"
    response = emu.unary(token, "kimi.chat.v1.ChatService/DeleteChat", {"chat_id": chat_id})
    assert response.status_code == 404
    assert response.json["code"] == "not_found" and response.json["message"]


def test_list_chats(emu):
    token = emu.token()
    first, second = _new_chat(emu, token, "one"), _new_chat(emu, token, "two")
    emu.unary(token, "kimi.chat.v1.ChatService/DeleteChat", {"chat_id": first})
    response = emu.unary(
        token,
        "kimi.chat.v1.ChatService/ListChats",
        {"project_id": "", "page_size": 10, "query": ""},
    )
    assert [c["id"] for c in response.json["chats"]] == [second]
    assert response.json["chats"][0]["name"] == "two"
    other = emu.unary(emu.token("bob"), "kimi.chat.v1.ChatService/ListChats", {})
    assert other.json["chats"] == []


def test_list_messages_of_unknown_chat(emu):
    response = emu.unary(
        emu.token(),
        "kimi.gateway.chat.v1.ChatService/ListMessages",
        {"chat_id": "d3aaaaaaaaaaaaaaaaaa", "page_size": 10},
    )
    assert response.status_code == 404 and response.json["code"] == "not_found"


def test_available_models_fixture(emu):
    response = emu.unary(emu.token(), "kimi.gateway.config.v1.ConfigService/GetAvailableModels")
    models = response.json["availableModels"]
    assert [m["displayName"] for m in models] == [
        "K2.6 Instant",
        "K2.6 Thinking",
        "K2.6 Agent",
        "K2.6 Agent Swarm",
    ]
    for model in models:
        assert {
            "scenario",
            "displayName",
            "description",
            "thinking",
            "kimiPlusId",
            "agentMode",
        } <= set(model)
    assert [m["thinking"] for m in models[:2]] == [False, True]
    assert response.json["defaultScenario"]["scenario"] == "SCENARIO_K2D5"


def test_get_subscription(emu):
    response = emu.unary(emu.token(), "kimi.gateway.order.v1.SubscriptionService/GetSubscription")
    assert response.status_code == 200 and "subscription" in response.json


def test_unknown_rpc(emu):
    response = emu.unary(emu.token(), "kimi.gateway.nope.v1.Nope/Nothing")
    assert response.status_code == 404 and response.json["code"] == "unimplemented"


def test_invalid_json_body(emu):
    response = emu.client.post(
        "/apiv2/kimi.chat.v1.ChatService/ListChats",
        data=b"{nope",
        headers={**emu.auth(emu.token()), "Content-Type": "application/json"},
    )
    assert response.status_code == 400 and response.json["code"] == "invalid_argument"


def test_upload(emu):
    token = emu.token()
    data = b"\x00\x01binary\xff" * 1000
    response = emu.upload_connect(token, "data.bin", data, "application/octet-stream")
    assert response.status_code == 200
    file = response.json["file"]
    assert {"id", "name", "size", "mimeType"} <= set(file)
    assert (file["name"], file["size"], file["mimeType"]) == (
        "data.bin",
        len(data),
        "application/octet-stream",
    )
    recorded = emu.client.get("/_emulator/files").json["files"]
    assert recorded[0]["sha256"] == hashlib.sha256(data).hexdigest()
    assert recorded[0]["protocol"] == "connect" and recorded[0]["status"] == "parsed"


def test_upload_needs_file_field(emu):
    response = emu.client.post(
        "/apiv2-files/file/upload",
        data={"other": "x"},
        headers=emu.auth(emu.token()),
        content_type="multipart/form-data",
    )
    assert response.status_code == 400 and response.json["code"] == "invalid_argument"


def test_upload_faults(emu):
    token = emu.token()
    emu.fault("upload_fail")
    response = emu.upload_connect(token, "a.txt", b"abc")
    assert response.status_code == 500 and response.json["code"] == "internal"
    assert emu.client.get("/_emulator/files").json["files"] == []
    emu.fault("parse_fail")
    response = emu.upload_connect(token, "a.txt", b"abc")
    assert response.status_code == 400 and response.json["code"] == "failed_precondition"
    emu.fault("parse_hang")
    response = emu.upload_connect(token, "a.txt", b"abc")
    assert response.status_code == 504 and response.json["code"] == "deadline_exceeded"
    statuses = [f["status"] for f in emu.client.get("/_emulator/files").json["files"]]
    assert statuses == ["failed", "initializing"]
    assert emu.upload_connect(token, "a.txt", b"abc").status_code == 200
