"""The control API: recorded calls, chats, files, faults and reset."""

from __future__ import annotations

import json

import pytest


def test_calls_are_recorded_without_tokens(emu):
    token = emu.token("secret-refresh-token")
    chat_id = emu.create_chat(token)
    emu.complete(token, chat_id, "hi")
    emu.chat_connect(token, "hello")
    calls = emu.client.get("/_emulator/calls").json["calls"]
    dumped = json.dumps(calls)
    assert token not in dumped and "secret-refresh-token" not in dumped
    assert [c["protocol"] for c in calls] == ["rest", "rest", "rest", "connect", "control"]
    refresh, create, completion, chat, listing = calls
    user_id = emu.client.get("/api/user", headers=emu.auth(token)).json["id"]
    assert refresh["path"] == "/api/auth/token/refresh" and refresh["account"] == user_id
    assert create["method"] == "POST" and create["body"]["enter_method"] == "new_chat"
    assert completion["body"]["messages"] == [{"role": "user", "content": "hi"}]
    assert completion["account"] == user_id
    assert chat["body"]["message"]["blocks"][0]["text"]["content"] == "hello"
    assert chat["path"] == "/apiv2/kimi.gateway.chat.v1.ChatService/Chat"
    assert listing["path"] == "/_emulator/calls" and listing["account"] is None
    assert {"method", "path", "protocol", "body", "account"} <= set(calls[0])


def test_uploads_are_recorded_without_bodies(emu):
    token = emu.token()
    emu.upload_rest(token, "a.txt", b"abc", "text/plain")
    emu.upload_connect(token, "b.txt", b"def")
    calls = emu.client.get("/_emulator/calls").json["calls"]
    put = next(c for c in calls if c["method"] == "PUT")
    assert put["protocol"] == "rest" and put["body"] is None
    upload = next(c for c in calls if c["path"] == "/apiv2-files/file/upload")
    assert upload["protocol"] == "connect" and upload["body"] is None


def test_chats_record_protocol_and_turns(emu):
    token = emu.token()
    chat_id = emu.create_chat(token)
    emu.complete(token, chat_id, "a", use_search=True)
    chats = emu.chats()
    assert set(chats[0]) >= {"id", "protocol", "account", "deleted", "turns"}
    turn = chats[0]["turns"][0]
    assert turn["prompt"] == "a" and turn["reply"] == "You said: a"
    assert turn["options"]["search"] is True and turn["fault"] is None


def test_faults_listing_and_reset(emu):
    emu.fault("throttle", times=2)
    assert emu.client.get("/_emulator/faults").json["faults"] == [{"fault": "throttle", "times": 2}]
    token = emu.token()
    emu.create_chat(token)
    emu.upload_connect(token, "x.txt", b"x")
    assert emu.client.post("/_emulator/reset").status_code == 200
    assert emu.chats() == []
    assert emu.client.get("/_emulator/files").json["files"] == []
    assert emu.client.get("/_emulator/faults").json["faults"] == []
    calls = emu.client.get("/_emulator/calls").json["calls"]
    assert [c["path"] for c in calls] == [
        "/_emulator/chats",
        "/_emulator/files",
        "/_emulator/faults",
        "/_emulator/calls",
    ]


def test_options_are_listed_and_changed_while_running(emu):
    options = emu.client.get("/_emulator/options").json["options"]
    assert options["research_total"] == 20 and options["one_stream_per_account"] is True
    changed = emu.client.post("/_emulator/options", json={"research_total": 1})
    assert changed.status_code == 200 and changed.json["options"]["research_total"] == 1
    token = emu.token()
    assert emu.client.get("/api/chat/research/usage", headers=emu.auth(token)).json["total"] == 1


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"research_totl": 1}, "unknown emulator options: ['research_totl']"),
        ({"research_total": "many"}, "research_total must be an integer >= 0"),
        ({"one_stream_per_account": 0}, "one_stream_per_account must be true or false"),
        ([1], "body must be a JSON object"),
    ],
)
def test_bad_option_changes_are_refused_and_change_nothing(emu, body, message):
    response = emu.client.post("/_emulator/options", json=body)
    assert response.status_code == 400
    assert message in response.json["error"]
    assert "research_total" in response.json["known"]
    assert emu.client.get("/_emulator/options").json["options"]["research_total"] == 20


def test_a_valid_key_next_to_a_bad_one_is_not_applied(emu):
    body = {"research_total": 1, "chunk_size": -1}
    assert emu.client.post("/_emulator/options", json=body).status_code == 400
    assert emu.client.get("/_emulator/options").json["options"]["research_total"] == 20


@pytest.mark.parametrize("options", [{"research_total": 7}])
def test_reset_restores_the_start_up_options(emu):
    emu.client.post("/_emulator/options", json={"research_total": 1, "chunk_size": 2})
    emu.client.post("/_emulator/reset")
    options = emu.client.get("/_emulator/options").json["options"]
    assert (options["research_total"], options["chunk_size"]) == (7, 8)


def test_the_token_book_lists_every_token_seen_or_issued_across_resets(emu):
    refresh = "book-refresh-token"
    access = emu.token(refresh)
    minted = emu.client.post("/_emulator/tokens", json={}).json
    emu.client.post("/_emulator/reset")
    rotated = emu.rotate(minted["refreshToken"]).json
    tokens = emu.client.get("/_emulator/tokens").json["tokens"]
    expected = [refresh, access, minted["refreshToken"], minted["accessToken"]]
    expected += [rotated["accessToken"], rotated["refreshToken"]]
    assert set(expected) <= set(tokens)
    # The call record still shows none of them.
    dumped = json.dumps(emu.client.get("/_emulator/calls").json["calls"])
    assert not [token for token in tokens if token in dumped]


def test_a_cookie_token_goes_in_the_book(emu):
    access = emu.token("cookie-refresh")
    emu.client.set_cookie("kimi-auth", access)
    emu.client.get("/api/user")
    assert access in emu.client.get("/_emulator/tokens").json["tokens"]
