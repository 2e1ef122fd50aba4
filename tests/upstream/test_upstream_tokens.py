"""What a token says about itself (JWT detection, expiry, identity claims) and the two refresh
calls, against mocked Kimi endpoints."""

from __future__ import annotations

import pytest
import requests
import responses

from kimiproxy.errors import (
    AuthenticationFailed,
    UpstreamError,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from kimiproxy.upstream.refresh import (
    EndpointMissing,
    Refreshed,
    legacy_refresh,
    rotating_refresh,
)
from kimiproxy.upstream.tokens import (
    fingerprint,
    identity_headers,
    is_access_token,
    jitter,
    jwt_claims,
    token_expiry,
    token_lifetime,
)

from .helpers import BASE, REFRESH_URL, ROTATING_URL, make_jwt

REFRESH = "Zq8xK2mNp4Lr7Vt1Yw3Bc6Dh9Fj0sGk"


def test_access_jwt_is_detected():
    assert is_access_token(make_jwt())
    assert jwt_claims(make_jwt(sub="u-9"))["sub"] == "u-9"


@pytest.mark.parametrize(
    "token",
    [
        REFRESH,
        make_jwt(typ="refresh"),
        make_jwt(app_id="other"),
        "a.b.c",
        "eyJhbGciOiJIUzUxMiJ9.!!!notbase64!!!.sig",
        "eyJhbGciOiJIUzUxMiJ9.WzEsMl0.sig",  # payload is a JSON list
        "",
    ],
)
def test_anything_else_is_a_refresh_token(token):
    assert not is_access_token(token)


def test_payload_without_padding_decodes():
    # Every payload length modulo 4 must decode despite the stripped "=" padding.
    for sub in ("a", "ab", "abc", "abcd"):
        assert jwt_claims(make_jwt(sub=sub))["sub"] == sub


def test_fingerprint_is_short_and_does_not_reveal_the_token():
    assert len(fingerprint(REFRESH)) == 10
    assert fingerprint(REFRESH) not in REFRESH
    assert fingerprint(REFRESH) == fingerprint(REFRESH)


def test_expiry_and_lifetime_come_from_the_claims():
    token = make_jwt(exp=2000, iat=1100)
    assert token_expiry(token) == 2000
    assert token_lifetime(token) == 900
    assert token_lifetime(make_jwt(exp=1000, iat=2000)) is None
    assert token_expiry("not-a-jwt") is None and token_lifetime("not-a-jwt") is None


def test_identity_headers_are_the_claims_the_token_carries():
    token = make_jwt(sub="u-1", device_id="7301", ssid="1702")
    assert identity_headers(token) == {
        "X-Msh-Device-Id": "7301",
        "X-Msh-Session-Id": "1702",
        "X-Traffic-Id": "u-1",
    }
    assert identity_headers(make_jwt(sub=None)) == {}
    assert identity_headers(REFRESH) == {}


def test_jitter_is_fixed_by_the_token_and_within_twenty_percent():
    factors = [jitter(make_jwt(jti=str(n))) for n in range(200)]
    assert all(0.8 <= f <= 1.2 for f in factors)
    assert min(factors) < 0.9 and max(factors) > 1.1
    assert jitter(REFRESH) == jitter(REFRESH)


# -- the rotating refresh ---------------------------------------------------------------------


@responses.activate
def test_rotating_refresh_posts_plain_json_and_reads_both_tokens():
    access = make_jwt()
    responses.post(ROTATING_URL, json={"accessToken": access, "refreshToken": "next-refresh"})
    refreshed = rotating_refresh(requests.Session(), BASE, REFRESH, (1, 1))
    assert refreshed == Refreshed(access, "next-refresh", "rotating")
    request = responses.calls[0].request
    assert request.body == b'{"refresh_token": "Zq8xK2mNp4Lr7Vt1Yw3Bc6Dh9Fj0sGk"}'
    assert request.headers["Content-Type"] == "application/json"
    assert "Authorization" not in request.headers


def test_refreshed_tokens_never_show_in_repr():
    shown = repr(Refreshed(make_jwt(), REFRESH, "rotating"))
    assert REFRESH not in shown and "eyJ" not in shown


@responses.activate
def test_rotating_refresh_404_means_the_endpoint_is_missing():
    responses.post(ROTATING_URL, status=404, json={"code": "unimplemented"})
    with pytest.raises(EndpointMissing):
        rotating_refresh(requests.Session(), BASE, REFRESH, (1, 1))


@responses.activate
@pytest.mark.parametrize(
    "status,body",
    [
        (401, {"code": "unauthenticated", "message": "invalid claims"}),
        (400, {"code": "unauthenticated", "message": f"bad {REFRESH}"}),
        (200, {"code": "unauthenticated"}),
    ],
)
def test_refused_rotating_refresh_is_authentication_failed(status, body):
    responses.post(ROTATING_URL, status=status, json=body)
    with pytest.raises(AuthenticationFailed) as caught:
        rotating_refresh(requests.Session(), BASE, REFRESH, (1, 1))
    assert caught.value.message.startswith("Kimi rejected the refresh token")
    assert REFRESH not in caught.value.message


@responses.activate
def test_rotating_refresh_timeout_is_upstream_timeout():
    responses.post(ROTATING_URL, body=requests.exceptions.ReadTimeout("slow"))
    with pytest.raises(UpstreamTimeout):
        rotating_refresh(requests.Session(), BASE, REFRESH, (1, 1))


# -- the older refresh ------------------------------------------------------------------------


@responses.activate
def test_refresh_sends_the_refresh_token_and_reads_access_token():
    access = make_jwt()
    responses.get(REFRESH_URL, json={"access_token": access, "refresh_token": "rotated"})
    assert legacy_refresh(requests.Session(), BASE, REFRESH, (1, 1)) == Refreshed(
        access, "rotated", "legacy"
    )
    assert responses.calls[0].request.headers["Authorization"] == f"Bearer {REFRESH}"


@responses.activate
def test_refresh_accepts_token_field():
    responses.get(REFRESH_URL, json={"token": "the-access"})
    assert legacy_refresh(requests.Session(), BASE, REFRESH, (1, 1)).access_token == "the-access"


@responses.activate
@pytest.mark.parametrize(
    "status,body",
    [
        (401, {"error_type": "auth.token.invalid", "message": "您的授权已过期，请重新登录"}),
        (401, {}),
        (400, {"error_type": "auth.token.invalid", "message": f"bad token {REFRESH}"}),
        (200, {"error_type": "auth.token.invalid", "message": f"bad token {REFRESH}"}),
    ],
)
def test_refused_refresh_is_authentication_failed_without_the_token(status, body):
    responses.get(REFRESH_URL, status=status, json=body)
    with pytest.raises(AuthenticationFailed) as caught:
        legacy_refresh(requests.Session(), BASE, REFRESH, (1, 1))
    message = caught.value.message
    assert message.startswith("Kimi rejected the refresh token")
    for start in range(0, len(REFRESH) - 6):
        assert REFRESH[start : start + 6] not in message


@responses.activate
def test_refresh_answer_without_token_is_upstream_error():
    responses.get(REFRESH_URL, json={"refresh_token": REFRESH})
    with pytest.raises(UpstreamError, match="no access token"):
        legacy_refresh(requests.Session(), BASE, REFRESH, (1, 1))


@responses.activate
def test_refresh_connection_error_is_unavailable():
    responses.get(REFRESH_URL, body=requests.ConnectionError("refused"))
    with pytest.raises(UpstreamUnavailable):
        legacy_refresh(requests.Session(), BASE, REFRESH, (1, 1))
