"""The rotating token refresh (``POST .../AuthService/RefreshToken``), the older GET refresh
beside it, short access-token lifetimes, and the options that shape them."""

from __future__ import annotations

import base64
import json
import time

import pytest

from kimiproxy.emulator.tokens import encode_jwt, user_id_for

from .conftest import REFRESH_RPC

ACCESS_JWT = encode_jwt({"app_id": "kimi", "typ": "access", "sub": "u1", "exp": 2e9})
EXPIRED_REFRESH_JWT = encode_jwt({"app_id": "kimi", "typ": "refresh", "sub": "u1", "exp": 1})


def claims(token: str) -> dict:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def account(emu, access: str) -> str:
    response = emu.client.get("/api/user", headers=emu.auth(access))
    assert response.status_code == 200, response.data
    return response.json["id"]


def test_both_tokens_rotate_and_belong_to_the_same_account(emu):
    first = emu.rotate("alice-refresh")
    assert first.status_code == 200
    assert set(first.json) == {"accessToken", "refreshToken"}
    access, refresh = first.json["accessToken"], first.json["refreshToken"]
    assert refresh != "alice-refresh"
    assert account(emu, access) == user_id_for("alice-refresh")
    second = emu.rotate(refresh)
    assert second.status_code == 200
    assert second.json["refreshToken"] not in (refresh, "alice-refresh")
    assert second.json["accessToken"] != access
    assert account(emu, second.json["accessToken"]) == user_id_for("alice-refresh")


def test_rotated_tokens_carry_the_session_claims(emu):
    answer = emu.rotate("alice-refresh").json
    access, refresh = claims(answer["accessToken"]), claims(answer["refreshToken"])
    assert {"sub", "device_id", "ssid", "jti", "iat", "exp"} <= set(access)
    assert (access["typ"], access["app_id"], access["iss"]) == ("access", "kimi", "user-center")
    assert access["exp"] - access["iat"] == 900
    assert abs(access["iat"] - time.time()) < 5
    assert (refresh["typ"], refresh["app_id"]) == ("refresh", "kimi")
    assert refresh["exp"] - refresh["iat"] == 90 * 24 * 3600
    for claim in ("sub", "device_id", "ssid"):
        assert refresh[claim] == access[claim]
    assert refresh["jti"] != access["jti"]
    later = emu.rotate(answer["refreshToken"]).json
    assert claims(later["accessToken"])["ssid"] == access["ssid"]
    assert claims(later["refreshToken"])["jti"] != refresh["jti"]


def test_the_old_refresh_token_is_refused_after_a_rotation(emu):
    new = emu.rotate("alice-refresh").json["refreshToken"]
    again = emu.rotate("alice-refresh")
    assert again.status_code == 401
    assert again.json == {"code": "unauthenticated", "message": "invalid claims"}
    # the older endpoint refuses a rotated-out token too
    assert emu.legacy_refresh("alice-refresh").json["error_type"] == "auth.token.invalid"
    assert emu.rotate(new).status_code == 200


def test_a_refresh_jwt_seen_for_the_first_time_starts_a_session(emu):
    forged = encode_jwt(
        {
            "app_id": "kimi",
            "typ": "refresh",
            "sub": "u123",
            "device_id": "777",
            "ssid": "888",
            "exp": time.time() + 60,
        }
    )
    answer = emu.rotate(forged).json
    access = claims(answer["accessToken"])
    assert (access["sub"], access["device_id"], access["ssid"]) == ("u123", "777", "888")
    assert emu.rotate(forged).status_code == 401


@pytest.mark.parametrize(
    ("token", "message"),
    [
        ("invalid-xyz", "unauthenticated"),
        (ACCESS_JWT, "unauthenticated"),
        (EXPIRED_REFRESH_JWT, "token is expired"),
    ],
)
def test_tokens_that_are_not_live_refresh_tokens_are_unauthenticated(emu, token, message):
    response = emu.rotate(token)
    assert response.status_code == 401
    assert response.json == {"code": "unauthenticated", "message": message}
    record = emu.refreshes()["refreshes"][-1]
    assert (record["outcome"], record["status"]) == ("refused", 401)


@pytest.mark.parametrize(
    "body",
    [b"", b"not json", b"[]", b'{"refresh_token": ""}', b'{"refresh_token": 3}', b"{}"],
)
def test_a_body_without_a_refresh_token_is_invalid_argument(emu, body):
    response = emu.client.post(REFRESH_RPC, data=body, content_type="application/json")
    assert response.status_code == 400
    assert response.json["code"] == "invalid_argument"


def test_a_connect_envelope_is_not_what_the_endpoint_takes(emu):
    envelope = emu.connect_envelope({"refresh_token": "alice-refresh"})
    response = emu.client.post(REFRESH_RPC, data=envelope, content_type="application/connect+json")
    assert (response.status_code, response.json["code"]) == (400, "invalid_argument")


def test_camel_case_field_and_a_stray_authorization_header_are_accepted(emu):
    response = emu.client.post(
        REFRESH_RPC,
        json={"refreshToken": "alice-refresh"},
        headers=emu.auth("invalid-header-token"),
    )
    assert response.status_code == 200
    assert account(emu, response.json["accessToken"]) == user_id_for("alice-refresh")


def test_the_older_get_keeps_the_refresh_token_by_default(emu):
    for _ in range(3):
        response = emu.legacy_refresh("demo-refresh-token")
        assert response.status_code == 200
        assert response.json["refresh_token"] == "demo-refresh-token"
    # a token only ever used on the GET endpoint can still be rotated
    assert emu.rotate("demo-refresh-token").status_code == 200
    assert emu.legacy_refresh("demo-refresh-token").status_code == 401
    outcomes = [r["outcome"] for r in emu.refreshes()["refreshes"]]
    assert outcomes == ["kept", "kept", "kept", "rotated", "conflict"]


@pytest.mark.parametrize("options", [{"legacy_refresh_rotates": True}])
def test_the_older_get_can_rotate_too(emu):
    first = emu.legacy_refresh("alice-refresh")
    assert first.status_code == 200
    new = first.json["refresh_token"]
    assert new != "alice-refresh" and claims(new)["typ"] == "refresh"
    assert account(emu, first.json["access_token"]) == user_id_for("alice-refresh")
    assert emu.legacy_refresh("alice-refresh").status_code == 401
    assert emu.rotate("alice-refresh").status_code == 401
    assert emu.legacy_refresh(new).status_code == 200


@pytest.mark.parametrize("options", [{"legacy_refresh_rotates": True}])
def test_a_tokenfield_session_keeps_its_answer_shape_after_rotating(emu):
    first = emu.legacy_refresh("tokenfield-alice").json
    assert set(first) == {"token", "refresh_token"}
    second = emu.legacy_refresh(first["refresh_token"]).json
    assert set(second) == {"token", "refresh_token"}


@pytest.mark.parametrize("options", [{"rotating_refresh": False}])
def test_the_rotating_endpoint_can_be_missing(emu):
    response = emu.rotate("alice-refresh")
    assert response.status_code == 404
    assert response.json["code"] == "unimplemented"
    assert emu.refreshes()["refreshes"] == []
    assert emu.legacy_refresh("alice-refresh").status_code == 200


def test_the_rotating_endpoint_can_be_turned_off_while_running(emu):
    emu.client.post("/_emulator/options", json={"rotating_refresh": False})
    assert emu.rotate("alice-refresh").status_code == 404
    emu.client.post("/_emulator/reset")
    assert emu.rotate("alice-refresh").status_code == 200


def test_a_get_on_the_rotating_path_answers_like_connect(emu):
    response = emu.client.get(REFRESH_RPC)
    assert (response.status_code, response.json["code"]) == (405, "unimplemented")
    response = emu.client.post("/api/account.gateway.v1.AuthService/Nope", json={})
    assert (response.status_code, response.json["code"]) == (404, "unimplemented")


def _wait_until_expired(access: str) -> None:
    # iat is the issue time rounded down, so a 2 s token lives more than 1 s and at most 2 s.
    time.sleep(max(0.0, claims(access)["exp"] - time.time()) + 0.05)


@pytest.mark.parametrize("options", [{"access_ttl": 2}])
def test_a_short_lived_access_token_expires_on_rest_chat_calls(emu):
    access = emu.rotate("alice-refresh").json["accessToken"]
    assert claims(access)["exp"] - claims(access)["iat"] == 2
    chat_id = emu.create_chat(access)
    response, _ = emu.complete(access, chat_id, "before")
    assert response.status_code == 200
    _wait_until_expired(access)
    response, _ = emu.complete(access, chat_id, "after")
    assert response.status_code == 401
    assert response.json["error_type"] == "auth.token.invalid"


@pytest.mark.parametrize("options", [{"access_ttl": 2}])
def test_a_short_lived_access_token_expires_on_connect_chat_calls(emu):
    answer = emu.rotate("alice-refresh").json
    response, _, frames = emu.chat_connect(answer["accessToken"], "before")
    assert response.status_code == 200 and frames[-1] == (2, {})
    _wait_until_expired(answer["accessToken"])
    response, _, _ = emu.chat_connect(answer["accessToken"], "after")
    assert (response.status_code, response.get_data(as_text=True)) == (401, "token is expired")
    # the refresh token it came with still gets a working one
    fresh = emu.rotate(answer["refreshToken"]).json["accessToken"]
    response, _, _ = emu.chat_connect(fresh, "again")
    assert response.status_code == 200


def test_access_ttl_changed_while_running_applies_to_the_next_token(emu):
    emu.client.post("/_emulator/options", json={"access_ttl": 2})
    access = emu.rotate("alice-refresh").json["accessToken"]
    assert claims(access)["exp"] - claims(access)["iat"] == 2
    legacy = emu.legacy_refresh("bob-refresh").json["access_token"]
    assert claims(legacy)["exp"] - claims(legacy)["iat"] == 2


def test_reset_forgets_rotations(emu):
    emu.rotate("alice-refresh")
    emu.client.post("/_emulator/reset")
    assert emu.rotate("alice-refresh").status_code == 200
    assert len(emu.refreshes()["refreshes"]) == 1
