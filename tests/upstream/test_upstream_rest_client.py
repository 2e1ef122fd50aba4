"""The ``rest`` (REST + SSE) client against mocked Kimi endpoints."""

from __future__ import annotations

import io
import json
import time

import pytest
import requests
import responses
from responses import matchers

from kimiproxy.chat.model_names import parse_model
from kimiproxy.errors import (
    AuthenticationFailed,
    NotFound,
    RateLimited,
    UpstreamError,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from kimiproxy.upstream import ChatTurn, make_client
from kimiproxy.upstream.events import (
    ChatStarted,
    Finished,
    SearchResult,
    TextDelta,
    ThinkingDelta,
    UploadedFile,
    UpstreamFailed,
)
from kimiproxy.upstream.model_spec import ModelSpec
from kimiproxy.upstream.rest.bodies import K1_KIMIPLUS_ID, wrap_urls
from kimiproxy.upstream.rest.client import RestClient

from .helpers import (
    BASE,
    REFRESH_URL,
    ROTATING_URL,
    chunked_body,
    make_jwt,
    settings,
    split_every,
    sse,
)

TOKEN = "Rf7Qx2Lm9Kp4Wz8Nt3Vb6Hc1Jd5Gs0"
ACCESS = make_jwt(sub="user-a")
CHAT = "cnndivilnl96vah411dg"
STREAM_URL = f"{BASE}/api/chat/{CHAT}/completion/stream"
SSE = {"Content-Type": "text/event-stream"}


@pytest.fixture
def mock():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        # This Kimi has only the older refresh endpoint.
        rsps.post(ROTATING_URL, status=404, json={"code": "unimplemented"})
        rsps.get(REFRESH_URL, json={"access_token": ACCESS, "refresh_token": TOKEN})
        rsps.get(BASE + "/api/user", json={"id": "user-a", "name": "emulator user"})
        rsps.post(BASE + "/api/chat", json={"id": CHAT, "name": "未命名会话"})
        yield rsps


@pytest.fixture
def client():
    client = RestClient(settings("rest"))
    client.poll_interval = 0.01
    yield client
    client.close()


def turn(prompt: str = "hello", model: str = "kimi", **kwargs) -> ChatTurn:
    return ChatTurn(credential=TOKEN, prompt=prompt, model=parse_model(model), **kwargs)


def add_stream(mock, body: bytes | io.BufferedReader, url: str = STREAM_URL, **kwargs) -> None:
    mock.post(url, body=body, headers=SSE, **kwargs)


def calls_to(mock, path: str) -> list:
    return [c for c in mock.calls if c.request.url.split("?")[0] == BASE + path]


def sent_json(call) -> dict:
    return json.loads(call.request.body)


def text_of(events) -> str:
    return "".join(e.text for e in events if isinstance(e, TextDelta))


HELLO = sse(
    {"event": "req", "id": "seg-1", "group_id": "g", "content": "hello", "refs": []},
    {"event": "resp", "id": "resp-1", "group_id": "g"},
    {"event": "debug", "message": {"need2search": False}},
    {"event": "cmpl", "text": "You said", "idx_s": 0, "idx_z": 0, "view": "cmpl"},
    {"event": "cmpl", "text": ": hello"},
    {"event": "rename", "text": "title"},
    {"event": "all_done"},
)


def test_factory_builds_the_rest_client():
    assert isinstance(make_client(settings("rest")), RestClient)


def test_create_stream_and_delete(mock, client):
    add_stream(mock, HELLO)
    mock.delete(f"{BASE}/api/chat/{CHAT}", json={})
    events = list(client.chat(turn("see https://example.com/a?b=1 now")))
    assert events[0] == ChatStarted(CHAT)
    assert text_of(events) == "You said: hello"
    assert events[-1] == Finished("stop")

    create = sent_json(calls_to(mock, "/api/chat")[0])
    assert create == {
        "enter_method": "new_chat",
        "is_example": False,
        "kimiplus_id": "kimi",
        "name": "未命名会话",
    }
    stream_call = calls_to(mock, f"/api/chat/{CHAT}/completion/stream")[0]
    body = sent_json(stream_call)
    assert body["messages"] == [
        {
            "role": "user",
            "content": 'see <url id="" type="url" status="" title="" wc="">'
            "https://example.com/a?b=1</url> now",
        }
    ]
    assert body["kimiplus_id"] == "kimi"
    assert (body["use_search"], body["use_research"], body["use_math"]) == (False, False, False)
    assert body["extend"] == {"sidebar": True}
    assert body["refs"] == [] and body["refs_file"] == []
    headers = stream_call.request.headers
    assert headers["Authorization"] == f"Bearer {ACCESS}"
    assert headers["X-Traffic-Id"] == "user-a"
    assert headers["X-Msh-Platform"] == "web"
    assert headers["X-Msh-Device-Id"].isdigit() and headers["X-Msh-Session-Id"].isdigit()
    assert headers["Referer"] == f"{BASE}/chat/{CHAT}"
    assert headers["Origin"] == BASE

    client.delete_chat(TOKEN, CHAT)
    assert calls_to(mock, f"/api/chat/{CHAT}")[-1].request.method == "DELETE"
    # One refresh serves every call of this credential; the user id is the token's sub claim.
    assert len(calls_to(mock, "/api/auth/token/refresh")) == 1
    assert not calls_to(mock, "/api/user")


def test_user_id_is_looked_up_once_when_the_token_does_not_say_it(mock, client):
    anonymous = make_jwt(sub=None)
    mock.replace("GET", REFRESH_URL, json={"access_token": anonymous})
    add_stream(mock, HELLO)
    list(client.chat(turn()))
    list(client.chat(turn(chat_id=CHAT)))
    stream_call = calls_to(mock, f"/api/chat/{CHAT}/completion/stream")[-1]
    assert stream_call.request.headers["X-Traffic-Id"] == "user-a"
    assert len(calls_to(mock, "/api/user")) == 1


def test_identity_headers_come_from_the_token_claims(mock, client):
    claimed = make_jwt(sub="user-c", device_id="7301234567890123456", ssid="1730000000000000001")
    mock.replace("GET", REFRESH_URL, json={"access_token": claimed})
    add_stream(mock, HELLO)
    list(client.chat(turn(chat_id=CHAT)))
    headers = calls_to(mock, f"/api/chat/{CHAT}/completion/stream")[0].request.headers
    assert headers["X-Traffic-Id"] == "user-c"
    assert headers["X-Msh-Device-Id"] == "7301234567890123456"
    assert headers["X-Msh-Session-Id"] == "1730000000000000001"
    assert not calls_to(mock, "/api/user")


def test_delete_tolerates_a_gone_chat(mock, client):
    mock.delete(f"{BASE}/api/chat/{CHAT}", status=404, json={"error_type": "chat.not_found"})
    client.delete_chat(TOKEN, CHAT)


def test_existing_chat_is_not_created_again(mock, client):
    add_stream(mock, HELLO)
    events = list(client.chat(turn(chat_id=CHAT)))
    assert events[0] == ChatStarted(CHAT)
    assert not calls_to(mock, "/api/chat")


def test_agent_id_is_the_kimiplus_id(mock, client):
    add_stream(mock, HELLO)
    agent = "cpb9e0cudu6a09vrpf2g"
    list(client.chat(turn(model=agent)))
    assert sent_json(calls_to(mock, "/api/chat")[0])["kimiplus_id"] == agent
    assert sent_json(mock.calls[-1])["kimiplus_id"] == agent


def test_search_results(mock, client):
    add_stream(
        mock,
        sse(
            {"event": "search_plus", "msg": {"type": "start"}},
            {
                "event": "search_plus",
                "msg": {
                    "type": "get_res",
                    "title": "One",
                    "url": "https://example.com/1",
                    "site_name": "Ex",
                    "snippet": "first",
                    "date": "2024-01-01",
                },
            },
            {
                "event": "search_plus",
                "msg": {"type": "get_res", "title": "One again", "url": "https://example.com/1"},
            },
            {
                "event": "search_plus",
                "msg": {"type": "get_res", "title": "Two", "url": "https://example.com/2"},
            },
            {"event": "ref_docs", "ref_cards": [{"url": "https://example.com/1"}]},
            {"event": "cmpl", "text": "answer"},
            {"event": "all_done"},
        ),
    )
    events = list(client.chat(turn(model="kimi-search")))
    results = [e for e in events if isinstance(e, SearchResult)]
    assert results == [
        SearchResult("One", "https://example.com/1", "Ex", "first", "2024-01-01"),
        SearchResult("Two", "https://example.com/2"),
    ]
    assert sent_json(mock.calls[-1])["use_search"] is True
    assert events[-1] == Finished("stop")


def test_k1_thinking(mock, client):
    add_stream(
        mock,
        sse(
            {"event": "k1", "text": "Thinking about: "},
            {"event": "k1", "text": "hello"},
            {"event": "cmpl", "text": "Hi"},
            {"event": "all_done"},
        ),
    )
    events = list(client.chat(turn(model="kimi-k1")))
    thinking = "".join(e.text for e in events if isinstance(e, ThinkingDelta))
    assert thinking == "Thinking about: hello"
    assert text_of(events) == "Hi"
    body = sent_json(mock.calls[-1])
    assert body["kimiplus_id"] == K1_KIMIPLUS_ID
    assert body["model"] == "k1"
    assert sent_json(calls_to(mock, "/api/chat")[0])["kimiplus_id"] == K1_KIMIPLUS_ID


def test_math_and_research_flags(mock, client):
    mock.get(BASE + "/api/chat/research/usage", json={"remain": 1, "total": 3, "used": 2})
    add_stream(mock, HELLO)
    list(client.chat(turn(model="kimi-research-math")))
    body = sent_json(mock.calls[-1])
    assert body["use_research"] is True and body["use_math"] is True


def test_research_quota_exhausted_is_refused_before_anything(mock, client):
    mock.get(BASE + "/api/chat/research/usage", json={"remain": 0, "total": 3, "used": 3})
    with pytest.raises(RateLimited) as caught:
        next(client.chat(turn(model="kimi-research")))
    assert caught.value.code == "research_quota_exhausted"
    assert "3 of 3" in caught.value.message
    assert not calls_to(mock, "/api/chat")


def test_the_research_quota_kimi_reports_is_kept_with_the_account(mock, client):
    mock.get(BASE + "/api/chat/research/usage", json={"remain": 1, "total": 3, "used": 2})
    add_stream(mock, HELLO)
    list(client.chat(turn(model="kimi-research")))
    directory = client.tokens.directory
    account = directory.store.get_account(directory.account_of(turn().credential))
    assert account.quota == {"research": {"remain": 1, "total": 3, "used": 2}}


def test_done_mid_stream_is_not_the_end(mock, client):
    add_stream(
        mock,
        sse(
            {"event": "cmpl", "text": "a"},
            {"event": "done"},
            {"event": "cmpl", "text": "b"},
            {"event": "all_done"},
        ),
    )
    events = list(client.chat(turn()))
    assert text_of(events) == "ab"
    assert events[-1] == Finished("stop")


PART_ONE = sse(
    {"event": "req", "id": "seg-1"},
    {"event": "cmpl", "text": "PART-ONE "},
    {"event": "length"},
    {"event": "all_done"},
)
PART_TWO = sse({"event": "cmpl", "text": "PART-TWO "}, {"event": "all_done"})


def test_length_is_continued(mock, client):
    add_stream(mock, PART_ONE)
    add_stream(mock, PART_TWO)
    events = list(client.chat(turn("[[reply:long]]")))
    assert text_of(events) == "PART-ONE PART-TWO "
    assert events[-1] == Finished("stop")
    streams = calls_to(mock, f"/api/chat/{CHAT}/completion/stream")
    assert len(streams) == 2
    assert sent_json(streams[1]) == {
        "segment_id": "seg-1",
        "action": "continue",
        "messages": [{"role": "user", "content": " "}],
        "kimiplus_id": "kimi",
        "extend": {"sidebar": True},
    }


def test_continuations_are_capped(mock):
    client = RestClient(settings("rest", MAX_CONTINUATIONS=1))
    add_stream(mock, PART_ONE)
    add_stream(mock, PART_ONE)
    add_stream(mock, PART_TWO)
    events = list(client.chat(turn()))
    assert text_of(events) == "PART-ONE PART-ONE "
    assert events[-1] == Finished("length")
    assert len(calls_to(mock, f"/api/chat/{CHAT}/completion/stream")) == 2


def test_no_continuation_when_disabled(mock):
    client = RestClient(settings("rest", MAX_CONTINUATIONS=0))
    add_stream(mock, PART_ONE)
    events = list(client.chat(turn()))
    assert events[-1] == Finished("length")


def test_overload_error_event(mock, client):
    add_stream(
        mock,
        sse(
            {"event": "cmpl", "text": "partial"},
            {
                "event": "error",
                "error": {
                    "error_type": "openai.completion.stream",
                    "message": "Kimi 现在有点累了，晚一点再来问问我吧！",
                },
            },
        ),
    )
    events = list(client.chat(turn()))
    assert text_of(events) == "partial"
    failure = events[-1]
    assert isinstance(failure, UpstreamFailed)
    assert isinstance(failure.error, UpstreamUnavailable)
    assert failure.error.status == 503
    assert "有点累了" in failure.error.message


def test_other_error_event_is_upstream_error(mock, client):
    add_stream(
        mock,
        sse(
            {
                "event": "error",
                "error": {"error_type": "openai.completion.stream", "message": "内容不合规"},
            }
        ),
    )
    failure = list(client.chat(turn()))[-1]
    assert type(failure.error) is UpstreamError
    assert failure.error.message == "Kimi stopped the answer: 内容不合规"


def test_malformed_line(mock, client):
    add_stream(mock, sse({"event": "cmpl", "text": "ok"}, "{not json"))
    events = list(client.chat(turn()))
    assert text_of(events) == "ok"
    assert isinstance(events[-1], UpstreamFailed)
    assert events[-1].error.message == "Kimi sent a malformed event"
    assert events[-1].error.status == 502


def test_cut_stream(mock, client):
    add_stream(mock, sse({"event": "cmpl", "text": "You said"}, {"event": "done"}))
    events = list(client.chat(turn()))
    assert isinstance(events[-1], UpstreamFailed)
    assert type(events[-1].error) is UpstreamError
    assert "the answer was cut off" in events[-1].error.message


def test_utf8_split_across_chunks_arrives_intact(mock, client):
    answer = "中文字符和表情😀🎉测试"
    body = sse({"event": "cmpl", "text": answer}, {"event": "all_done"})
    # Every 3-byte cut lands inside some multi-byte character.
    add_stream(mock, chunked_body(split_every(body, 3)))
    events = list(client.chat(turn("[[reply:split-utf8]]")))
    assert text_of(events) == answer
    assert "\ufffd" not in text_of(events)
    assert events[-1] == Finished("stop")


def test_every_chunk_size_gives_the_same_events(mock):
    body = HELLO + b""
    expected = None
    for size in (1, 2, 5, 7, 64, len(body)):
        client = RestClient(settings("rest"))
        add_stream(mock, chunked_body(split_every(body, size)))
        events = list(client.chat(turn(chat_id=CHAT)))
        expected = expected or events
        assert events == expected, size


def test_closing_the_generator_closes_the_response(mock, client):
    body = chunked_body(
        [sse({"event": "cmpl", "text": "first"}), sse({"event": "cmpl", "text": "x"})]
    )
    add_stream(mock, body)
    events = client.chat(turn())
    assert next(events) == ChatStarted(CHAT)
    assert next(events) == TextDelta("first")
    events.close()
    assert body.closed


def test_401_on_completion_refreshes_and_retries(mock, client):
    mock.post(STREAM_URL, status=401, json={"error_type": "auth.token.invalid", "message": "过期"})
    add_stream(mock, HELLO)
    events = list(client.chat(turn(chat_id=CHAT)))
    assert events[-1] == Finished("stop")
    assert len(calls_to(mock, "/api/auth/token/refresh")) == 2


def test_second_401_on_an_existing_chat_is_raised(mock, client):
    mock.post(STREAM_URL, status=401, json={"error_type": "auth.token.invalid", "message": "过期"})
    with pytest.raises(AuthenticationFailed) as caught:
        list(client.chat(turn(chat_id=CHAT)))
    assert TOKEN not in caught.value.message and ACCESS not in caught.value.message


def test_stream_pushing_after_chat_creation_is_a_failure_event(mock, client):
    mock.post(
        STREAM_URL, status=400, json={"error_type": "chat.user_stream_pushing", "message": "busy"}
    )
    events = list(client.chat(turn()))
    assert events[0] == ChatStarted(CHAT)
    assert isinstance(events[1], UpstreamFailed)
    assert events[1].error.code == "account_busy"


def test_throttle_on_existing_chat_is_raised_with_retry_after(mock, client):
    mock.post(STREAM_URL, status=429, json={"message": "slow"}, headers={"Retry-After": "3"})
    with pytest.raises(RateLimited) as caught:
        list(client.chat(turn(chat_id=CHAT)))
    assert caught.value.retry_after == 3.0


def test_unknown_conversation_is_not_found(mock, client):
    mock.post(STREAM_URL, status=404, json={"error_type": "chat.not_found", "message": "gone"})
    with pytest.raises(NotFound) as caught:
        list(client.chat(turn(chat_id=CHAT)))
    assert caught.value.param == "conversation_id"


def test_connection_refused_is_unavailable(mock, client):
    mock.replace("POST", BASE + "/api/chat", body=requests.ConnectionError("refused"))
    with pytest.raises(UpstreamUnavailable):
        list(client.chat(turn()))


def test_access_jwt_credential_skips_refresh(mock, client):
    add_stream(mock, HELLO)
    jwt = make_jwt(sub="direct")
    list(client.chat(ChatTurn(credential=jwt, prompt="x", model=ModelSpec("kimi"))))
    assert not calls_to(mock, "/api/auth/token/refresh")
    assert mock.calls[-1].request.headers["Authorization"] == f"Bearer {jwt}"


def test_files_go_into_refs(mock, client):
    add_stream(mock, HELLO)
    details = {"id": "f1", "name": "a.txt", "size": 3, "file_info": {}, "done": True}
    files = [UploadedFile("f1", "a.txt", 3, "text/plain", details=details)]
    list(client.chat(turn(chat_id=CHAT, files=files, has_files=True)))
    body = sent_json(mock.calls[-1])
    assert body["refs"] == ["f1"]
    assert body["refs_file"] == [details]


def test_wrap_urls():
    wrapped = wrap_urls("a https://x.io/p, b (http://y.io/q) 中文https://z.io/中")
    assert '<url id="" type="url" status="" title="" wc="">https://x.io/p</url>,' in wrapped
    assert 'wc="">http://y.io/q</url>)' in wrapped
    assert 'wc="">https://z.io/</url>中' in wrapped
    assert wrap_urls(wrapped) == wrapped
    assert wrap_urls("no links") == "no links"


# -- files ------------------------------------------------------------------------------------

OSS_URL = "https://oss.test/bucket/obj-1?signature=abc"
FILE_OBJECT = {"id": "file-1", "name": "a.txt", "size": 11, "status": "initialized"}


def add_presign(mock) -> None:
    mock.post(
        BASE + "/api/pre-sign-url",
        json={"url": OSS_URL, "object_name": "obj-1", "file_id": "fid-1"},
    )


def test_upload_flow(mock, client):
    add_presign(mock)
    received = {}

    def put(request):
        body = request.body
        received["body"] = body if isinstance(body, bytes) else b"".join(body)
        received["headers"] = request.headers
        return 200, {}, ""

    mock.add_callback("PUT", OSS_URL, callback=put)
    mock.post(BASE + "/api/file", json=dict(FILE_OBJECT, status="uploading"))
    mock.post(BASE + "/api/file", json=FILE_OBJECT)
    mock.post(
        BASE + "/api/file/parse_process",
        body=sse({"event": "resp", "file_info": {"status": "parsed"}}),
        headers=SSE,
        match=[matchers.json_params_matcher({"ids": ["file-1"], "timeout": 120000})],
    )
    source = io.BytesIO(b"hello world")
    uploaded = client.upload_file(TOKEN, "a.txt", "text/plain", source, 11, "file", CHAT)

    assert received["body"] == b"hello world"
    assert received["headers"]["Content-Type"] == "text/plain"
    assert received["headers"]["Content-Length"] == "11"
    assert "Authorization" not in received["headers"]  # never send the token to storage
    presign = sent_json(calls_to(mock, "/api/pre-sign-url")[0])
    assert presign == {"action": "file", "name": "a.txt"}
    taken = sent_json(calls_to(mock, "/api/file")[0])
    assert taken == {
        "type": "file",
        "name": "a.txt",
        "object_name": "obj-1",
        "file_id": "",
        "chat_id": CHAT,
    }
    assert len(calls_to(mock, "/api/file")) == 2  # polled until initialized
    assert uploaded.id == "file-1" and uploaded.kind == "file" and uploaded.size == 11
    assert uploaded.details["id"] == "file-1"
    assert uploaded.details["file_info"] == FILE_OBJECT
    assert uploaded.details["parse_status"] == "success"
    assert uploaded.details["upload_status"] == "success"


def test_image_upload_body(mock, client):
    add_presign(mock)
    mock.put(OSS_URL)
    mock.post(BASE + "/api/file", json=dict(FILE_OBJECT, status="parsed"))
    uploaded = client.upload_file(TOKEN, "p.png", "image/png", io.BytesIO(b"png"), 3, "image")
    assert sent_json(calls_to(mock, "/api/file")[0]) == {
        "type": "image",
        "file_id": "fid-1",
        "name": "p.png",
    }
    assert uploaded.kind == "image"
    assert not calls_to(mock, "/api/file/parse_process")  # already parsed


def test_parse_timeout(mock):
    client = RestClient(settings("rest", FILE_PARSE_TIMEOUT=0.3))
    client.poll_interval = 0.05
    add_presign(mock)
    mock.put(OSS_URL)
    mock.post(BASE + "/api/file", json=dict(FILE_OBJECT, status="uploading"))
    with pytest.raises(UpstreamTimeout) as caught:
        client.upload_file(TOKEN, "slow.pdf", "application/pdf", io.BytesIO(b"x"), 1, "file", CHAT)
    assert caught.value.status == 504
    assert caught.value.message == "Kimi did not finish parsing slow.pdf in 0.3 s"


def test_parse_failure_names_the_file(mock, client):
    add_presign(mock)
    mock.put(OSS_URL)
    mock.post(BASE + "/api/file", json=FILE_OBJECT)
    mock.post(
        BASE + "/api/file/parse_process",
        body=sse({"event": "resp", "file_info": {"status": "failed"}}),
        headers=SSE,
    )
    with pytest.raises(UpstreamError) as caught:
        client.upload_file(TOKEN, "bad.docx", "application/msword", io.BytesIO(b"x"), 1, "file")
    assert caught.value.status == 502
    assert "bad.docx" in caught.value.message


def test_storage_refusal_is_upstream_error(mock, client):
    add_presign(mock)
    mock.put(OSS_URL, status=403)
    with pytest.raises(UpstreamError, match="a.txt"):
        client.upload_file(TOKEN, "a.txt", "text/plain", io.BytesIO(b"x"), 1, "file", CHAT)


# -- found in review --------------------------------------------------------------------------


def test_closing_after_chat_started_on_an_existing_chat_closes_the_response(mock, client):
    body = chunked_body([sse({"event": "cmpl", "text": "first"})])
    add_stream(mock, body)
    events = client.chat(turn(chat_id=CHAT))
    assert next(events) == ChatStarted(CHAT)
    events.close()
    assert body.closed


def test_error_event_never_quotes_the_token(mock, client):
    said = f"refused token {TOKEN} for this chat"
    add_stream(
        mock,
        sse(
            {"event": "cmpl", "text": "a"},
            {"event": "error", "error": {"error_type": "chat.forbidden", "message": said}},
        ),
    )
    failure = list(client.chat(turn(chat_id=CHAT)))[-1]
    assert isinstance(failure, UpstreamFailed)
    assert TOKEN not in failure.error.message
    assert "[redacted]" in failure.error.message


def test_auth_error_object_instead_of_a_stream_drops_the_cached_token(mock, client):
    # Kimi answers 200 with an error object: the access token it refused must not be reused.
    mock.post(STREAM_URL, json={"error_type": "auth.token.invalid", "message": "过期"})
    add_stream(mock, HELLO)
    with pytest.raises(AuthenticationFailed):
        list(client.chat(turn(chat_id=CHAT)))
    assert list(client.chat(turn(chat_id=CHAT)))[-1] == Finished("stop")
    assert len(calls_to(mock, "/api/auth/token/refresh")) == 2


@pytest.mark.parametrize(
    "keepalive", [b": keepalive\n\n", b"data: not json\n\n"], ids=["comment", "non-json"]
)
def test_parse_wait_ends_at_the_deadline_while_kimi_sends_keepalives(mock, keepalive):
    client = RestClient(settings("rest", FILE_PARSE_TIMEOUT=0.3))
    add_presign(mock)
    mock.put(OSS_URL)
    mock.post(BASE + "/api/file", json=FILE_OBJECT)
    mock.post(
        BASE + "/api/file/parse_process",
        body=chunked_body([keepalive] * 40, delay=0.05),  # 2 s of nothing useful
        headers=SSE,
    )
    started = time.monotonic()
    with pytest.raises(UpstreamTimeout) as caught:
        client.upload_file(TOKEN, "slow.pdf", "application/pdf", io.BytesIO(b"x"), 1, "file", CHAT)
    assert time.monotonic() - started < 1.5
    assert caught.value.message == "Kimi did not finish parsing slow.pdf in 0.3 s"


def test_a_hanging_refresh_fails_the_turn_after_one_timeout(mock, client):
    # The user id lookup must not swallow the timeout and make the turn refresh a second time.
    mock.replace("POST", ROTATING_URL, body=requests.exceptions.ReadTimeout("hang"))
    with pytest.raises(UpstreamTimeout):
        list(client.chat(turn()))
    assert len(calls_to(mock, "/api/account.gateway.v1.AuthService/RefreshToken")) == 1
    assert not calls_to(mock, "/api/auth/token/refresh")
    assert not calls_to(mock, "/api/user")


def test_a_user_lookup_that_times_out_is_not_waited_for_twice(mock, client):
    mock.replace("GET", REFRESH_URL, json={"access_token": make_jwt(sub=None)})
    mock.replace("GET", BASE + "/api/user", body=requests.exceptions.ReadTimeout("hang"))
    with pytest.raises(UpstreamTimeout):
        list(client.chat(turn()))
    assert len(calls_to(mock, "/api/user")) == 1
    assert not calls_to(mock, "/api/chat")
