"""End to end: upstream failures and bad input become the right OpenAI errors, and nothing is
left behind in the Kimi account."""

from __future__ import annotations

import openai
import pytest
import requests

USER = [{"role": "user", "content": "hello"}]


@pytest.mark.parametrize(
    ("fault", "error_class", "status"),
    [
        ("throttle", openai.RateLimitError, 429),
        ("server_error", openai.APIStatusError, 502),
    ],
)
@pytest.mark.parametrize("stream", [False, True])
def test_upstream_failures_before_output(client, emulator, fault, error_class, status, stream):
    emulator.fault(fault)
    with pytest.raises(error_class) as caught:
        response = client.chat.completions.create(model="kimi", messages=USER, stream=stream)
        list(response) if stream else None
    assert caught.value.status_code == status
    assert caught.value.body["message"]
    assert emulator.undeleted_chats() == []


def test_expired_access_token_is_refreshed(client, emulator):
    client.chat.completions.create(model="kimi", messages=USER)
    emulator.fault("expired_token")
    answer = client.chat.completions.create(model="kimi", messages=USER)
    assert answer.choices[0].message.content == "You said: hello"
    assert emulator.undeleted_chats() == []


def test_rejected_token_is_401_without_the_token(proxy):
    secret = "invalid-secret-token-value"
    bad = proxy.client(api_key=secret)
    with pytest.raises(openai.AuthenticationError) as caught:
        bad.chat.completions.create(model="kimi", messages=USER)
    assert secret not in str(caught.value.body) and "secret" not in str(caught.value)


def test_a_rejected_account_is_swapped_for_another(proxy, emulator):
    answer = proxy.client(api_key="invalid-one,good-one").chat.completions.create(
        model="kimi", messages=USER
    )
    assert answer.choices[0].message.content == "You said: hello"


@pytest.mark.parametrize("fault", ["error_event", "cut_stream", "malformed_frame"])
def test_failures_mid_stream(client, emulator, fault):
    emulator.fault(fault)
    received = []
    with pytest.raises(openai.APIError) as caught:
        for chunk in client.chat.completions.create(model="kimi", messages=USER, stream=True):
            received.append(chunk)
    assert caught.value.message
    assert received and received[0].choices[0].delta.role == "assistant"
    assert emulator.undeleted_chats() == []


@pytest.mark.parametrize("fault", ["error_event", "cut_stream", "malformed_frame"])
def test_failures_mid_answer_without_stream(client, emulator, fault):
    emulator.fault(fault)
    with pytest.raises(openai.APIStatusError) as caught:
        client.chat.completions.create(model="kimi", messages=USER)
    assert caught.value.status_code in (502, 503)
    assert emulator.undeleted_chats() == []


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (b"{not json", "not valid JSON"),
        (b"", "empty"),
        (b'{"model": "kimi"}', "'messages' is required"),
        (b'{"messages": []}', "at least one"),
        (b'{"messages": [{"role": "wizard", "content": "x"}]}', "role"),
        (b'{"messages": [{"role": "user", "content": "x"}], "stream": "yes"}', "boolean"),
        (b'{"messages": [{"role": "user", "content": "x"}], "n": 3}', "'n' must be 1"),
    ],
)
def test_bad_requests_are_400(proxy, emulator, body, fragment):
    response = requests.post(
        f"{proxy.base_url}/chat/completions",
        data=body,
        timeout=10,
        headers={"Authorization": "Bearer tok", "Content-Type": "application/json"},
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert fragment in error["message"] and error["type"] == "invalid_request_error"
    assert emulator.chats() == []


def test_missing_key_is_401(proxy):
    response = requests.post(
        f"{proxy.base_url}/chat/completions", json={"messages": USER}, timeout=10
    )
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "missing_api_key"


def test_oversized_body_is_413(proxy):
    response = requests.post(
        f"{proxy.base_url}/chat/completions",
        timeout=30,
        data=b'{"messages": "' + b"x" * (21 * 1024 * 1024) + b'"}',
        headers={"Authorization": "Bearer tok", "Content-Type": "application/json"},
    )
    assert response.status_code == 413
    assert "limit" in response.json()["error"]["message"]


def test_a_busy_account_is_asked_again(client, emulator):
    emulator.fault("stream_pushing")  # Kimi still streams another answer for this account, once
    answer = client.chat.completions.create(model="kimi", messages=USER)
    assert answer.choices[0].message.content == "You said: hello"
    assert emulator.undeleted_chats() == []


@pytest.mark.parametrize("protocol", ["connect", "rest"])
def test_an_account_that_stays_busy_is_429(proxy_factory, emulator, protocol):
    emulator.reset()
    proxy = proxy_factory(protocol, KIMIPROXY_ACCOUNT_WAIT="2")
    emulator.fault("stream_pushing", times=100)
    try:
        with pytest.raises(openai.RateLimitError) as caught:
            proxy.client().chat.completions.create(model="kimi", messages=USER)
        assert caught.value.body["code"] == "account_busy"
    finally:
        emulator.reset()
    assert emulator.undeleted_chats() == []


def test_concurrent_requests_on_one_account_all_answer(proxy_factory, emulator):
    from concurrent.futures import ThreadPoolExecutor

    emulator.reset()
    client = proxy_factory("rest").client(api_key="one-account-many-requests")
    messages = [{"role": "user", "content": "hello [[fault:slow_chunks]]"}]
    with ThreadPoolExecutor(4) as pool:
        answers = list(
            pool.map(
                lambda _: client.chat.completions.create(model="kimi", messages=messages), range(4)
            )
        )
    assert all(a.choices[0].finish_reason == "stop" for a in answers)
    assert emulator.undeleted_chats() == []
