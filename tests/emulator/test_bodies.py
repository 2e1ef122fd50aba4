"""Every body parse answers the protocol's own error, even for absurdly nested JSON."""

from __future__ import annotations

import base64
import json

import pytest

from kimiproxy.emulator.bodies import MAX_DEPTH, BodyError, parse_json, parse_json_object
from kimiproxy.emulator.tokens import encode_jwt

DEPTH = 100_000
DEEP_BODIES = {
    "arrays": b"[" * DEPTH + b"]" * DEPTH,
    "objects": b'{"a":' * DEPTH + b"1" + b"}" * DEPTH,
    # parses fine, but nests deeper than any Kimi body (and than the emulator keeps)
    "nested_messages": b'{"messages":' + b"[" * 300 + b"]" * 300 + b"}",
}
JSON = {"Content-Type": "application/json"}


def _rest_paths(emu, token):
    chat_id = emu.create_chat(token)
    return [
        "/api/chat",
        f"/api/chat/{chat_id}/completion/stream",
        "/api/chat/list",
        f"/api/chat/{chat_id}/token_size",
        "/api/pre-sign-url",
        "/api/file",
        "/api/file/parse_process",
    ]


UNARY = [
    "kimi.chat.v1.ChatService/ListChats",
    "kimi.chat.v1.ChatService/DeleteChat",
    "kimi.gateway.chat.v1.ChatService/ListMessages",
    "kimi.gateway.config.v1.ConfigService/GetAvailableModels",
    "kimi.gateway.order.v1.SubscriptionService/GetSubscription",
]


def _calls_still_served(emu) -> list[dict]:
    response = emu.client.get("/_emulator/calls")
    assert response.status_code == 200
    return response.json["calls"]


@pytest.mark.parametrize("kind", DEEP_BODIES)
def test_rest_answers_request_invalid(emu, kind):
    token = emu.token()
    for path in _rest_paths(emu, token):
        response = emu.client.post(
            path, data=DEEP_BODIES[kind], headers={**JSON, **emu.auth(token)}
        )
        assert response.status_code == 400, path
        assert response.mimetype == "application/json"
        assert response.json["error_type"] == "request.invalid"
        assert set(response.json) == {"error_type", "message", "detail"}
    calls = _calls_still_served(emu)
    assert [c["body"] for c in calls if c["path"] == "/api/chat/list"] == [None]


@pytest.mark.parametrize("kind", DEEP_BODIES)
def test_connect_chat_answers_invalid_argument(emu, kind):
    token = emu.token()
    payload = DEEP_BODIES[kind]
    envelope = b"\x00" + len(payload).to_bytes(4, "big") + payload
    response, _, frames = emu.chat_connect(token, raw=envelope)
    assert response.status_code == 200
    assert len(frames) == 1 and frames[0][0] == 2
    assert frames[0][1]["error"]["code"] == "invalid_argument"
    assert "nested" in frames[0][1]["error"]["message"] or kind == "nested_messages"
    calls = _calls_still_served(emu)
    assert calls[-2]["path"].endswith("/Chat") and calls[-2]["body"] is None


@pytest.mark.parametrize("kind", DEEP_BODIES)
def test_unary_calls_answer_invalid_argument(emu, kind):
    token = emu.token()
    for method in UNARY:
        response = emu.client.post(
            f"/apiv2/{method}", data=DEEP_BODIES[kind], headers={**JSON, **emu.auth(token)}
        )
        assert response.status_code == 400, method
        assert response.json["code"] == "invalid_argument"
    _calls_still_served(emu)


def test_control_api_survives_deep_bodies(emu):
    response = emu.client.post("/_emulator/faults", data=DEEP_BODIES["arrays"], headers=JSON)
    assert response.status_code == 400 and "unknown fault" in response.json["error"]
    _calls_still_served(emu)


def test_deep_jwt_payload_is_just_an_invalid_token(emu):
    payload = base64.urlsafe_b64encode(DEEP_BODIES["objects"]).rstrip(b"=").decode()
    token = f"eyJhbGciOiJIUzUxMiJ9.{payload}.emulator"
    response = emu.client.get("/api/user", headers=emu.auth(token))
    assert response.status_code == 401 and response.json["error_type"] == "auth.token.invalid"
    response = emu.unary(token, "kimi.chat.v1.ChatService/ListChats")
    assert (response.status_code, response.get_data(as_text=True)) == (401, "unauthenticated")


def test_nesting_up_to_the_limit_is_accepted(emu):
    token = emu.token()
    tags = json.loads("[" * (MAX_DEPTH - 1) + "]" * (MAX_DEPTH - 1))
    response = emu.client.post(
        "/api/chat", json={"name": "x", "tags": tags}, headers=emu.auth(token)
    )
    assert response.status_code == 200
    too_deep = [tags]
    response = emu.client.post(
        "/api/chat", json={"name": "x", "tags": too_deep}, headers=emu.auth(token)
    )
    assert response.status_code == 400
    # a stored body of the maximum depth can be served back
    assert _calls_still_served(emu)[1]["body"]["tags"] == tags


def test_parse_helpers():
    assert parse_json(b'{"a": [1, 2]}') == {"a": [1, 2]}
    assert parse_json("3") == 3
    assert parse_json_object('{"a": 1}') == {"a": 1}
    for bad in (b"{nope", b"", b"\xff\xfe\xfa", b"[" * DEPTH + b"]" * DEPTH):
        with pytest.raises(BodyError):
            parse_json(bad)
    with pytest.raises(BodyError, match="object"):
        parse_json_object(b"[1]")
    with pytest.raises(BodyError, match="nested"):
        parse_json("[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1))
    assert parse_json("[" * MAX_DEPTH + "]" * MAX_DEPTH)


def test_jwts_still_decode(emu):
    token = encode_jwt({"app_id": "kimi", "typ": "access", "sub": "u9", "exp": 2**40})
    assert emu.client.get("/api/user", headers=emu.auth(token)).json["id"] == "u9"
