"""Token refresh, the access JWT, and 401s in both protocols."""

from __future__ import annotations

import base64
import json
import time

from kimiproxy.emulator.tokens import encode_jwt


def _decode(part: str) -> dict:
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def test_refresh_returns_access_jwt(emu):
    response = emu.client.get("/api/auth/token/refresh", headers=emu.auth("alice-refresh"))
    assert response.status_code == 200
    assert response.json["refresh_token"] == "alice-refresh"
    header, payload, signature = response.json["access_token"].split(".")
    assert "=" not in header + payload
    assert _decode(header) == {"alg": "HS512", "typ": "JWT"}
    claims = _decode(payload)
    assert claims["iss"] == "user-center"
    assert claims["typ"] == "access" and claims["app_id"] == "kimi"
    assert {"sub", "space_id", "device_id", "ssid", "jti", "exp", "iat"} <= set(claims)
    assert claims["exp"] - claims["iat"] == 900  # the live site's 15 minutes
    assert abs(claims["iat"] - time.time()) < 5
    assert signature == "emulator"


def test_same_refresh_token_is_same_account(emu):
    first = emu.client.get("/api/user", headers=emu.auth(emu.token("alice-refresh")))
    again = emu.client.get("/api/user", headers=emu.auth(emu.token("alice-refresh")))
    other = emu.client.get("/api/user", headers=emu.auth(emu.token("bob-refresh")))
    assert first.json == again.json
    assert first.json["name"] == "emulator user"
    assert first.json["id"] != other.json["id"]


def test_invalid_refresh_token_refused(emu):
    response = emu.client.get("/api/auth/token/refresh", headers=emu.auth("invalid-xyz"))
    assert response.status_code == 401
    assert response.json["error_type"] == "auth.token.invalid"
    assert response.json["message"] == "您的授权已过期，请重新登录"
    assert "detail" in response.json


def test_access_jwt_is_not_a_refresh_token(emu):
    response = emu.client.get("/api/auth/token/refresh", headers=emu.auth(emu.token()))
    assert response.status_code == 401


def test_refresh_jwt_is_accepted(emu):
    refresh = encode_jwt(
        {"app_id": "kimi", "typ": "refresh", "sub": "u123", "exp": time.time() + 60}
    )
    response = emu.client.get("/api/auth/token/refresh", headers=emu.auth(refresh))
    assert response.status_code == 200
    user = emu.client.get("/api/user", headers=emu.auth(response.json["access_token"]))
    assert user.json["id"] == "u123"


def test_rest_rejects_bad_access_tokens(emu):
    expired = encode_jwt({"app_id": "kimi", "typ": "access", "sub": "u1", "exp": 1})
    wrong = encode_jwt({"app_id": "other", "typ": "access", "sub": "u1", "exp": time.time() + 60})
    for token in ("plain-refresh-token", expired, wrong):
        response = emu.client.get("/api/user", headers=emu.auth(token))
        assert response.status_code == 401
        assert response.json["error_type"] == "auth.token.invalid"
    assert emu.client.get("/api/user").status_code == 401


def test_connect_rejects_bad_access_tokens_with_text(emu):
    expired = encode_jwt({"app_id": "kimi", "typ": "access", "sub": "u1", "exp": 1})
    response = emu.unary(expired, "kimi.gateway.order.v1.SubscriptionService/GetSubscription")
    assert response.status_code == 401
    assert response.mimetype == "text/plain"
    assert response.get_data(as_text=True) == "token is expired"
    response = emu.unary("not-a-jwt", "kimi.gateway.order.v1.SubscriptionService/GetSubscription")
    assert (response.status_code, response.get_data(as_text=True)) == (401, "unauthenticated")
    response, _, _ = emu.chat_connect(expired, "hi")
    assert (response.status_code, response.get_data(as_text=True)) == (401, "token is expired")


def test_kimi_auth_cookie_is_accepted(emu):
    emu.client.set_cookie("kimi-auth", emu.token())
    response = emu.client.post(
        "/apiv2/kimi.gateway.order.v1.SubscriptionService/GetSubscription", json={}
    )
    assert response.status_code == 200
    assert response.json["subscription"]["userId"]


def test_tokenfield_refresh_answers_with_token(emu):
    response = emu.client.get("/api/auth/token/refresh", headers=emu.auth("tokenfield-alice"))
    assert response.status_code == 200
    assert set(response.json) == {"token", "refresh_token"}
    assert response.json["refresh_token"] == "tokenfield-alice"
    user = emu.client.get("/api/user", headers=emu.auth(response.json["token"]))
    assert user.status_code == 200
    # the same account as any other use of that refresh token
    again = emu.client.get("/api/auth/token/refresh", headers=emu.auth("tokenfield-alice"))
    assert (
        emu.client.get("/api/user", headers=emu.auth(again.json["token"])).json["id"]
        == user.json["id"]
    )
    # other refresh tokens keep the access_token field
    other = emu.client.get("/api/auth/token/refresh", headers=emu.auth("alice-tokenfield-"))
    assert "access_token" in other.json and "token" not in other.json
