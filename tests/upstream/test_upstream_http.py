"""The error-mapping table, the authenticated transport, and the streamed upload bodies."""

from __future__ import annotations

import io
import json

import pytest
import requests
import responses
import urllib3.exceptions

from kimiproxy.errors import (
    AuthenticationFailed,
    NotFound,
    PermissionDenied,
    RateLimited,
    UpstreamError,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from kimiproxy.upstream.failures import (
    error_from_response,
    map_failure,
    parse_retry_after,
    scrub,
)
from kimiproxy.upstream.sessions import make_session
from kimiproxy.upstream.tokens import is_access_token
from kimiproxy.upstream.transport import Transport
from kimiproxy.upstream.upload_bodies import FileSlice, MultipartFile

from .helpers import BASE, make_jwt

SECRET = "Sx9Lq2Wm7Pz4Kd8Rt1Vb5Nc3Hj6Fg0"


def fake_response(
    status: int, body: object = None, headers: dict | None = None
) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    if isinstance(body, (dict, list)):
        response._content = json.dumps(body, ensure_ascii=False).encode()
    elif isinstance(body, str):
        response._content = body.encode()
    else:
        response._content = b""
    response.headers.update(headers or {})
    response.encoding = "utf-8"
    return response


# (status, body, headers) → (error class, status, code, text in the message)
RESPONSE_TABLE = [
    (
        401,
        {"error_type": "auth.token.invalid", "message": "您的授权已过期，请重新登录"},
        {},
        AuthenticationFailed,
        401,
        "invalid_api_key",
        "Kimi rejected the token: 您的授权已过期",
    ),
    (
        400,
        {"error_type": "auth.token.invalid", "message": "expired"},
        {},
        AuthenticationFailed,
        401,
        "invalid_api_key",
        "Kimi rejected the token",
    ),
    (401, "token is expired", {}, AuthenticationFailed, 401, "invalid_api_key", "token is expired"),
    (401, "unauthenticated", {}, AuthenticationFailed, 401, "invalid_api_key", "rejected"),
    (401, "", {}, AuthenticationFailed, 401, "invalid_api_key", "invalid or expired"),
    (
        400,
        {"error_type": "chat.user_stream_pushing", "message": "..."},
        {},
        RateLimited,
        429,
        "account_busy",
        "already answering",
    ),
    (
        429,
        {"error_type": "chat.rate_limit", "message": "slow down"},
        {"Retry-After": "3"},
        RateLimited,
        429,
        "rate_limit_exceeded",
        "throttling",
    ),
    (
        400,
        {"code": "resource_exhausted", "message": "free tier"},
        {},
        RateLimited,
        429,
        "rate_limit_exceeded",
        "free tier",
    ),
    (
        404,
        {"error_type": "chat.not_found", "message": "no such chat"},
        {},
        NotFound,
        404,
        "not_found",
        "conversation",
    ),
    (
        404,
        {"code": "not_found", "message": "chat not found"},
        {},
        NotFound,
        404,
        "not_found",
        "conversation",
    ),
    (
        403,
        {"error_type": "chat.forbidden", "message": "not yours"},
        {},
        PermissionDenied,
        403,
        "forbidden",
        "not yours",
    ),
    (
        500,
        {"error_type": "internal", "message": "服务内部错误"},
        {},
        UpstreamError,
        502,
        "upstream_error",
        "服务内部错误",
    ),
    (
        502,
        "<html><body>Bad gateway</body></html>",
        {},
        UpstreamError,
        502,
        "upstream_error",
        "HTTP 502",
    ),
    (
        503,
        {"code": "unavailable", "message": "overloaded"},
        {},
        UpstreamUnavailable,
        503,
        "upstream_overloaded",
        "overloaded",
    ),
]


@pytest.mark.parametrize("status,body,headers,cls,http,code,text", RESPONSE_TABLE)
def test_error_responses_map_to_our_errors(status, body, headers, cls, http, code, text):
    error = error_from_response(fake_response(status, body, headers))
    assert type(error) is cls
    assert (error.status, error.code) == (http, code)
    assert text in error.message


def test_rate_limit_carries_retry_after():
    error = error_from_response(fake_response(429, {}, {"Retry-After": "3"}))
    assert isinstance(error, RateLimited)
    assert error.retry_after == 3.0


def test_not_found_names_the_conversation_param():
    error = error_from_response(fake_response(404, {"error_type": "chat.not_found"}))
    assert error.param == "conversation_id"


def test_retry_after_as_http_date():
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0
    assert parse_retry_after("nonsense") is None
    assert parse_retry_after(None) is None


@pytest.mark.parametrize(
    "exc,cls,http",
    [
        (requests.ConnectionError("refused"), UpstreamUnavailable, 503),
        (requests.ConnectTimeout("slow"), UpstreamTimeout, 504),
        (requests.ReadTimeout("slow"), UpstreamTimeout, 504),
        (urllib3.exceptions.ReadTimeoutError(None, "/", "slow"), UpstreamTimeout, 504),
        (requests.exceptions.ChunkedEncodingError("broken"), UpstreamError, 502),
        (urllib3.exceptions.ProtocolError("reset"), UpstreamError, 502),
    ],
)
def test_transport_exceptions_map_to_our_errors(exc, cls, http):
    error = map_failure(exception=exc)
    assert type(error) is cls
    assert error.status == http


def test_overload_reason_is_unavailable():
    error = map_failure(kind="unavailable", reason="REASON_COMPLETION_OVERLOADED", message="x")
    assert isinstance(error, UpstreamUnavailable)
    assert "overloaded" in error.message


def test_connect_stream_pushing_is_account_busy():
    error = map_failure(kind="resource_exhausted", message="chat.user_stream_pushing")
    assert isinstance(error, RateLimited)
    assert error.code == "account_busy"


def test_messages_never_carry_tokens():
    jwt = make_jwt()
    said = f"token {jwt} and {SECRET} and Bearer {SECRET}x rejected"
    error = map_failure(status=500, message=said, secrets=(SECRET,))
    assert jwt not in error.message
    assert SECRET not in error.message
    assert "[redacted]" in error.message
    assert "eyJ" not in scrub(jwt)


def test_long_messages_are_cut():
    assert len(map_failure(status=500, message="x" * 5000).message) < 400


# -- the transport ----------------------------------------------------------------------------


class FakeTokens:
    """A token keeper that hands out ``access-N`` and counts refreshes."""

    def __init__(self) -> None:
        self.refreshes = 0
        self.current: str | None = None

    def get(self, credential: str) -> str:
        if is_access_token(credential):
            return credential
        if self.current is None:
            self.refreshes += 1
            self.current = f"access-{self.refreshes}"
        return self.current

    def invalidate(self, credential: str, access_token: str | None = None) -> None:
        if access_token in (None, self.current):
            self.current = None

    def can_refresh(self, credential: str) -> bool:
        return not is_access_token(credential)

    def secrets_for(self, credential: str) -> tuple[str, ...]:
        return (credential,)


@responses.activate
def test_transport_retries_once_after_401_with_a_fresh_token():
    tokens = FakeTokens()
    responses.get(BASE + "/x", status=401, body="token is expired")
    responses.get(BASE + "/x", json={"ok": True})
    transport = Transport(make_session(), BASE, tokens, (1, 1))
    assert transport.json("refresh", "GET", "/x") == {"ok": True}
    sent = [call.request.headers["Authorization"] for call in responses.calls]
    assert sent == ["Bearer access-1", "Bearer access-2"]


@responses.activate
def test_transport_gives_up_after_the_second_401():
    tokens = FakeTokens()
    responses.get(BASE + "/x", status=401, body="token is expired")
    transport = Transport(make_session(), BASE, tokens, (1, 1))
    with pytest.raises(AuthenticationFailed):
        transport.send("refresh", "GET", "/x")
    assert len(responses.calls) == 2
    assert tokens.refreshes == 2


@responses.activate
def test_transport_does_not_retry_an_access_jwt():
    tokens = FakeTokens()
    responses.get(BASE + "/x", status=401, body="token is expired")
    transport = Transport(make_session(), BASE, tokens, (1, 1))
    with pytest.raises(AuthenticationFailed):
        transport.send(make_jwt(), "GET", "/x")
    assert len(responses.calls) == 1
    assert tokens.refreshes == 0


@responses.activate
def test_transport_maps_connection_errors():
    responses.get(BASE + "/x", body=requests.ConnectionError("refused"))
    transport = Transport(make_session(), BASE, FakeTokens(), (1, 1))
    with pytest.raises(UpstreamUnavailable):
        transport.send("refresh", "GET", "/x")


# -- streamed bodies --------------------------------------------------------------------------


def test_file_slice_reads_exactly_size_bytes_from_the_current_position():
    source = io.BytesIO(b"HEADERpayload-bytesTRAILER")
    source.seek(6)
    part = FileSlice(source, 13)
    assert len(part) == 13
    assert b"".join(part) == b"payload-bytes"
    assert b"".join(part.reopen()) == b"payload-bytes"


def test_multipart_body_streams_in_small_reads():
    data = bytes(range(256)) * 1000
    body = MultipartFile(
        "file", 'na"me.bin', "application/pdf", FileSlice(io.BytesIO(data), len(data))
    )
    pieces = []
    while chunk := body.read(1000):
        assert len(chunk) <= 1000
        pieces.append(chunk)
    raw = b"".join(pieces)
    assert len(raw) == len(body)
    assert data in raw
    assert b'filename="na%22me.bin"' in raw
    assert raw.endswith(f"--{body.boundary}--\r\n".encode())


def test_cookies_one_account_is_given_never_reach_another():
    import responses as responses_lib

    from kimiproxy.upstream.sessions import make_session

    session = make_session()
    with responses_lib.RequestsMock() as mock:
        mock.get("https://kimi.example/a", headers={"Set-Cookie": "sid=account-a; Path=/"})
        mock.get("https://kimi.example/b")
        session.get("https://kimi.example/a")
        session.get("https://kimi.example/b")
        assert "Cookie" not in mock.calls[1].request.headers
    assert not list(session.cookies)
