"""End to end: the openai SDK → kimiproxy under gunicorn/gevent → the Kimi emulator, for both
protocols, ``connect`` and ``rest``; cleanup is checked from the emulator's record."""

from __future__ import annotations

import openai
import pytest
import requests

from tests.helpers import wait_until
from tests.upstream.helpers import make_jwt

USER = [{"role": "user", "content": "hello there"}]
SPLIT_UTF8_ANSWER = "中文字符和表情😀🎉测试"


def test_non_streamed_answer(client, emulator):
    answer = client.chat.completions.create(model="kimi", messages=USER)
    assert answer.object == "chat.completion"
    assert answer.choices[0].message.role == "assistant"
    assert answer.choices[0].message.content == "You said: hello there"
    assert answer.choices[0].finish_reason == "stop"
    assert answer.usage.prompt_tokens > 0 and answer.usage.completion_tokens > 0
    chats = emulator.chats()
    assert [c["id"] for c in chats] == [answer.id]
    assert emulator.undeleted_chats() == []


def test_streamed_answer(client, emulator):
    stream = client.chat.completions.create(
        model="kimi", messages=USER, stream=True, stream_options={"include_usage": True}
    )
    chunks = list(stream)
    assert len({c.id for c in chunks}) == 1
    assert chunks[0].choices[0].delta.role == "assistant"
    assert all(c.choices[0].delta.role is None for c in chunks[1:] if c.choices)
    finishes = [
        c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason
    ]
    assert finishes == ["stop"]
    assert chunks[-1].choices == [] and chunks[-1].usage.total_tokens > 0
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "You said: hello there"
    assert emulator.undeleted_chats() == []


def test_model_may_be_omitted(proxy, emulator):
    response = requests.post(
        f"{proxy.base_url}/chat/completions",
        json={"messages": USER},
        headers={"Authorization": "Bearer tok"},
        timeout=30,
    )
    assert response.status_code == 200
    assert response.json()["choices"][0]["message"]["content"] == "You said: hello there"


@pytest.mark.parametrize("stream", [False, True])
def test_thinking_model(client, stream):
    if stream:
        chunks = list(
            client.chat.completions.create(model="kimi-thinking", messages=USER, stream=True)
        )
        reasoning = "".join(
            getattr(c.choices[0].delta, "reasoning_content", None) or ""
            for c in chunks
            if c.choices
        )
        content = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    else:
        message = client.chat.completions.create(model="kimi-thinking", messages=USER)
        reasoning = message.choices[0].message.reasoning_content
        content = message.choices[0].message.content
    assert reasoning == "Thinking about: hello there"
    assert content == "You said: hello there"


def test_search_citations_and_structured_results(client):
    answer = client.chat.completions.create(model="kimi-search", messages=USER)
    content = answer.choices[0].message.content
    assert content.startswith("You said: hello there\n\n搜索结果来自：\n【检索 1】 [Result 1 for")
    results = answer.model_extra["search_results"]
    assert [r["url"] for r in results] == [
        "https://example.com/search/1",
        "https://example.com/search/2",
    ]
    silent = client.chat.completions.create(model="kimi-search-silent", messages=USER)
    assert silent.choices[0].message.content == "You said: hello there"
    stripped = client.chat.completions.create(
        model="kimi-search", messages=USER, extra_body={"strip_citations": True}
    )
    assert stripped.choices[0].message.content == "You said: hello there"
    stream = client.chat.completions.create(model="kimi-search", messages=USER, stream=True)
    text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert text.startswith("【检索 1】 [Result 1 for")


def test_history_is_merged(client):
    messages = [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "hello"},
        {"role": "user", "content": [{"type": "text", "text": "and now?"}]},
    ]
    answer = client.chat.completions.create(model="kimi", messages=messages)
    assert answer.choices[0].message.content.splitlines() == [
        "You said: system:be brief",
        "user:hi",
        "assistant:hello",
        "system:关注用户最新的消息",
        "user:and now?",
    ]


def test_conversation_is_kept_and_continued(client, emulator):
    first = client.chat.completions.create(
        model="kimi", messages=USER, extra_body={"conversation_id": "none"}
    )
    chat_id = first.id
    assert first.model_extra["conversation_id"] == chat_id
    second = client.chat.completions.create(
        model="kimi",
        messages=USER + [{"role": "user", "content": "second round"}],
        extra_body={"conversation_id": chat_id},
    )
    assert second.id == chat_id
    assert second.choices[0].message.content == "You said: second round"
    chats = emulator.chats()
    assert len(chats) == 1 and not chats[0]["deleted"]
    assert len(chats[0]["turns"]) == 2


def test_unknown_conversation_is_404(client):
    with pytest.raises(openai.NotFoundError) as caught:
        client.chat.completions.create(
            model="kimi", messages=USER, extra_body={"conversation_id": "d3nosuchchat000000000"}
        )
    assert caught.value.body["param"] == "conversation_id"


@pytest.mark.parametrize("stream", [False, True])
def test_long_answer_is_continued(client, proxy, emulator, stream):
    messages = [{"role": "user", "content": "write a lot [[reply:long]]"}]
    if stream:
        chunks = list(client.chat.completions.create(model="kimi", messages=messages, stream=True))
        text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        finish = [c.choices[0].finish_reason for c in chunks if c.choices][-1]
    else:
        answer = client.chat.completions.create(model="kimi", messages=messages)
        text, finish = answer.choices[0].message.content, answer.choices[0].finish_reason
    assert text == "PART-ONE " * 40 + "PART-TWO " * 40
    assert finish == "stop"
    if proxy.protocol == "rest":
        bodies = [c["body"] for c in emulator.calls() if c["path"].endswith("/completion/stream")]
        assert bodies[-1]["action"] == "continue" and bodies[-1]["segment_id"]
    assert emulator.undeleted_chats() == []


@pytest.mark.parametrize("stream", [False, True])
def test_utf8_split_across_network_chunks(client, stream):
    messages = [{"role": "user", "content": "[[reply:split-utf8]]"}]
    if stream:
        text = "".join(
            c.choices[0].delta.content or ""
            for c in client.chat.completions.create(model="kimi", messages=messages, stream=True)
            if c.choices
        )
    else:
        text = (
            client.chat.completions.create(model="kimi", messages=messages)
            .choices[0]
            .message.content
        )
    assert text == SPLIT_UTF8_ANSWER


def test_models(client, proxy):
    ids = [m.id for m in client.models.list()]
    assert "kimi" in ids and "kimi-search" in ids
    assert ("kimi-research" in ids) is (proxy.protocol == "rest")
    assert client.models.retrieve("kimi-search").id == "kimi-search"
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("no-such-model-xyz")


def test_ping_and_plugins(proxy):
    assert requests.get(f"{proxy.url}/ping", timeout=5).text == "pong"
    plugins = requests.get(f"{proxy.url}/-/plugins", timeout=5).json()["plugins"]
    assert {"random_credential", "chat_cleanup"} <= {p["name"] for p in plugins}


def test_client_disconnect_still_cleans_up(proxy, emulator):
    emulator.fault("slow_chunks")
    response = requests.post(
        f"{proxy.base_url}/chat/completions",
        stream=True,
        timeout=30,
        headers={"Authorization": "Bearer tok"},
        json={
            "model": "kimi",
            "stream": True,
            "messages": [{"role": "user", "content": "a long slow answer " * 5}],
        },
    )
    lines = response.iter_lines()
    assert next(line for line in lines if line).startswith(b"data: ")
    response.close()
    assert wait_until(lambda: emulator.chats() and not emulator.undeleted_chats(), timeout=15)


def completion_bodies(emulator, protocol: str) -> list[dict]:
    suffix = "/completion/stream" if protocol == "rest" else "ChatService/Chat"
    return [c["body"] for c in emulator.calls() if c["path"].endswith(suffix)]


def test_access_jwt_is_used_directly(proxy, emulator):
    answer = proxy.client(api_key=make_jwt(sub="user-jwt")).chat.completions.create(
        model="kimi", messages=USER
    )
    assert answer.choices[0].message.content == "You said: hello there"
    assert not [c for c in emulator.calls() if c["path"] == "/api/auth/token/refresh"]


def test_agent_id_and_feature_flags_reach_kimi(client, proxy, emulator):
    agent = "cnndivilnl96vah411dg"
    client.chat.completions.create(model=agent, messages=USER)
    body = completion_bodies(emulator, proxy.protocol)[-1]
    assert agent in (body.get("kimiplus_id"), body.get("kimiplusId"))
    if proxy.protocol == "rest":
        client.chat.completions.create(model="kimi-math-search", messages=USER)
        body = completion_bodies(emulator, "rest")[-1]
        assert body["use_math"] is True and body["use_search"] is True
    else:
        client.chat.completions.create(model="kimi-thinking-search", messages=USER)
        body = completion_bodies(emulator, "connect")[-1]
        assert body["options"]["thinking"] is True
        assert body["tools"] == [{"type": "TOOL_TYPE_SEARCH", "search": {}}]


def test_research_quota_is_checked(proxy_factory, emulator):
    emulator.reset()
    client = proxy_factory("rest").client()
    answer = client.chat.completions.create(model="kimi-research", messages=USER)
    assert answer.choices[0].message.content.startswith("You said:")
    assert completion_bodies(emulator, "rest")[-1]["use_research"] is True
    assert any(c["path"] == "/api/chat/research/usage" for c in emulator.calls())


def test_research_is_refused_when_the_quota_is_used_up(proxy_factory, emulator):
    client = proxy_factory("rest").client(api_key="research-heavy-account")
    for _ in range(20):  # the emulator's quota per account
        client.chat.completions.create(model="kimi-research", messages=USER)
    with pytest.raises(openai.RateLimitError) as caught:
        client.chat.completions.create(model="kimi-research", messages=USER)
    assert caught.value.body["code"] == "research_quota_exhausted"
    assert emulator.undeleted_chats() == []


def test_token_check(proxy):
    def check(token):
        return requests.post(f"{proxy.url}/token/check", json={"token": token}, timeout=10)

    assert check("a-live-refresh-token").json() == {"live": True}
    assert check(make_jwt(sub="user-jwt")).json() == {"live": True}
    dead = check("invalid-dead-token")
    assert dead.status_code == 200 and dead.json() == {"live": False}
    assert "invalid-dead-token" not in dead.text
    missing = requests.post(f"{proxy.url}/token/check", json={}, timeout=10)
    assert missing.status_code == 400 and missing.json()["error"]["param"] == "token"
