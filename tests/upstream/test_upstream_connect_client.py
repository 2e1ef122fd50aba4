"""The ``connect`` (Connect RPC) client against mocked Kimi endpoints."""

from __future__ import annotations

import io
import json

import pytest
import responses

from kimiproxy.chat.model_names import parse_model
from kimiproxy.errors import (
    AuthenticationFailed,
    NotFound,
    RateLimited,
    UpstreamError,
    UpstreamUnavailable,
)
from kimiproxy.upstream import ChatTurn, make_client
from kimiproxy.upstream.connect.client import (
    CHAT_PATH,
    DELETE_CHAT_PATH,
    UPLOAD_PATH,
    ConnectClient,
)
from kimiproxy.upstream.connect.framing import EnvelopeDecoder
from kimiproxy.upstream.connect.history import LIST_MESSAGES_PATH, latest_assistant_id
from kimiproxy.upstream.events import (
    ChatStarted,
    Finished,
    SearchResult,
    TextDelta,
    ThinkingDelta,
    UploadedFile,
    UpstreamFailed,
)

from .helpers import (
    BASE,
    REFRESH_URL,
    ROTATING_URL,
    chunked_body,
    encoded_server,
    frames,
    make_jwt,
    settings,
    split_every,
)

TOKEN = "Cn4Wq8Lz2Mx6Pv1Kt9Rb3Hs7Jd5Gf0"
ACCESS = make_jwt(sub="user-b")
CHAT = "d3rglnb12h610c3cc300"
ASSISTANT = "d3rgln9djjpr0jobgrl0"
CONNECT = {"Content-Type": "application/connect+json"}


@pytest.fixture
def mock():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        rsps.post(ROTATING_URL, json={"accessToken": ACCESS, "refreshToken": "next-" + TOKEN})
        yield rsps


@pytest.fixture
def client():
    client = ConnectClient(settings("connect"))
    yield client
    client.close()


def turn(prompt: str = "hi", model: str = "kimi", **kwargs) -> ChatTurn:
    return ChatTurn(credential=TOKEN, prompt=prompt, model=parse_model(model), **kwargs)


def add_chat(mock, body, status: int = 200, **kwargs) -> None:
    mock.post(BASE + CHAT_PATH, body=body, status=status, headers=CONNECT, **kwargs)


def chat_request(call) -> dict:
    decoder = EnvelopeDecoder()
    [(flags, message)] = list(decoder.feed(call.request.body))
    assert flags == 0
    return message


def chat_calls(mock) -> list:
    return [c for c in mock.calls if c.request.url == BASE + CHAT_PATH]


def text_of(events, kind=TextDelta) -> str:
    return "".join(e.text for e in events if isinstance(e, kind))


def opening(chat_id: str = CHAT) -> list[dict]:
    return [
        {"op": "set", "eventOffset": 1, "chat": {"id": chat_id, "name": "Untitled Chat"}},
        {
            "op": "set",
            "mask": "message",
            "eventOffset": 2,
            "message": {
                "id": "user-msg",
                "role": "user",
                "status": "MESSAGE_STATUS_COMPLETED",
                "blocks": [{"id": "text_0_0", "text": {"content": "hi"}}],
            },
        },
        {
            "op": "set",
            "mask": "message",
            "eventOffset": 3,
            "message": {
                "id": ASSISTANT,
                "parentId": "user-msg",
                "role": "assistant",
                "status": "MESSAGE_STATUS_GENERATING",
            },
        },
    ]


def text(content: str, op: str = "append", block: str = "2_0") -> dict:
    mask = "block.text.content" if op == "append" else "block.text"
    return {"op": op, "mask": mask, "block": {"id": block, "text": {"content": content}}}


def think(content: str, op: str = "append") -> dict:
    mask = "block.think.content" if op == "append" else "block.think"
    return {"op": op, "mask": mask, "block": {"id": "0_0", "think": {"content": content}}}


ENDING = [
    {"op": "set", "mask": "chat.name", "chat": {"name": "Greeting"}},
    {
        "op": "set",
        "mask": "message.status",
        "message": {"id": ASSISTANT, "status": "MESSAGE_STATUS_COMPLETED"},
    },
    {"done": {}},
]

HELLO = frames(*opening(), text("", "set"), text("You said"), text(": hi"), *ENDING, end={})


def test_factory_builds_the_connect_client():
    assert isinstance(make_client(settings("connect")), ConnectClient)


def test_new_chat_stream(mock, client):
    add_chat(mock, HELLO)
    events = list(client.chat(turn()))
    assert events[0] == ChatStarted(CHAT, ASSISTANT)
    assert text_of(events) == "You said: hi"
    assert events[-1] == Finished("stop")
    assert sum(isinstance(e, ChatStarted) for e in events) == 1

    call = chat_calls(mock)[0]
    assert chat_request(call) == {
        "scenario": "SCENARIO_K2D5",
        "message": {
            "role": "user",
            "scenario": "SCENARIO_K2D5",
            "blocks": [{"message_id": "", "text": {"content": "hi"}}],
        },
        "options": {"thinking": False},
    }
    headers = call.request.headers
    assert headers["Content-Type"] == "application/connect+json"
    assert headers["Connect-Protocol-Version"] == "1"
    assert headers["Authorization"] == f"Bearer {ACCESS}"
    assert headers["X-Msh-Platform"] == "web"


def test_create_chat_is_implicit(client):
    assert client.create_chat(TOKEN, parse_model("kimi")) is None


def test_thinking_and_search(mock, client):
    pages = [
        {
            "title": "Result 1",
            "url": "https://example.com/search/1",
            "siteName": "Ex",
            "snippet": "s1",
            "publishTime": "2025-01-01",
        },
        {"title": "Result 2", "url": "https://example.com/search/2"},
    ]
    body = frames(
        *opening(),
        {"mask": "block.search.webPages", "block": {"id": "1_0", "search": {"webPages": pages}}},
        {"mask": "block.search.webPages", "block": {"id": "1_0", "search": {"webPages": pages}}},
        think("", "set"),
        think("Thinking about: "),
        think("hi"),
        {"heartbeat": {}},
        {"op": "set", "mask": "block.multiStage", "block": {"id": "x", "multiStage": {}}},
        {"notification": {"anything": 1}},
        text("Answer"),
        *ENDING,
        end={},
    )
    add_chat(mock, body)
    events = list(client.chat(turn(model="kimi-thinking-search")))
    assert text_of(events, ThinkingDelta) == "Thinking about: hi"
    assert text_of(events) == "Answer"
    assert [e for e in events if isinstance(e, SearchResult)] == [
        SearchResult("Result 1", "https://example.com/search/1", "Ex", "s1", "2025-01-01"),
        SearchResult("Result 2", "https://example.com/search/2"),
    ]
    request = chat_request(chat_calls(mock)[0])
    assert request["options"] == {"thinking": True}
    assert request["tools"] == [{"type": "TOOL_TYPE_SEARCH", "search": {}}]


def test_text_set_with_content_and_thinking_flagged_text(mock, client):
    body = frames(
        *opening(),
        {
            "op": "set",
            "mask": "block.text",
            "block": {"id": "t", "text": {"content": "reason", "flags": "thinking"}},
        },
        {
            "op": "append",
            "mask": "block.text.content",
            "block": {"id": "t", "text": {"content": "ing"}},
        },
        text("Hello", "set"),
        text(" world"),
        text("Hello world!", "set"),  # a full replacement: only the new tail is new
        *ENDING,
        end={},
    )
    add_chat(mock, body)
    events = list(client.chat(turn()))
    assert text_of(events, ThinkingDelta) == "reasoning"
    assert text_of(events) == "Hello world!"


def test_agent_id_and_files(mock, client):
    add_chat(mock, HELLO)
    files = [
        UploadedFile("f1", "a.pdf", 1, "application/pdf"),
        UploadedFile("f2", "b.png", 1, "image/png", kind="image"),
    ]
    list(client.chat(turn(model="cpb9e0cudu6a09vrpf2g", files=files, has_files=True)))
    request = chat_request(chat_calls(mock)[0])
    assert request["kimiplus_id"] == "cpb9e0cudu6a09vrpf2g"
    assert request["message"]["blocks"] == [
        {"message_id": "", "file": {"id": "f1"}},
        {"message_id": "", "file": {"id": "f2"}},
        {"message_id": "", "text": {"content": "hi"}},
    ]


def test_every_chunking_gives_the_same_events(mock):
    expected = None
    for size in (1, 2, 3, 5, 8, 13, 100, len(HELLO)):
        client = ConnectClient(settings("connect"))
        add_chat(mock, chunked_body(split_every(HELLO, size)))
        events = list(client.chat(turn()))
        expected = expected or events
        assert events == expected, size
    assert expected[-1] == Finished("stop")


def test_utf8_split_across_chunks(mock, client):
    answer = "中文字符和表情😀🎉测试"
    body = frames(*opening(), text(answer), *ENDING, end={})
    add_chat(mock, chunked_body(split_every(body, 4)))
    assert text_of(list(client.chat(turn()))) == answer


def test_throttled_before_output_is_raised(mock, client):
    add_chat(mock, frames(end={"error": {"code": "resource_exhausted", "message": "too many"}}))
    events = client.chat(turn())
    with pytest.raises(RateLimited) as caught:
        next(events)
    assert caught.value.code == "rate_limit_exceeded"


def test_stream_pushing_is_account_busy(mock, client):
    error = {"code": "resource_exhausted", "message": "chat.user_stream_pushing"}
    add_chat(mock, frames(end={"error": error}))
    with pytest.raises(RateLimited) as caught:
        list(client.chat(turn()))
    assert caught.value.code == "account_busy"


def test_http_429_carries_retry_after(mock, client):
    mock.post(BASE + CHAT_PATH, status=429, body="slow down", headers={"Retry-After": "3"})
    with pytest.raises(RateLimited) as caught:
        list(client.chat(turn()))
    assert caught.value.retry_after == 3.0


def test_server_error_is_upstream_error(mock, client):
    mock.post(BASE + CHAT_PATH, status=500, json={"error_type": "x", "message": "服务内部错误"})
    with pytest.raises(UpstreamError) as caught:
        list(client.chat(turn()))
    assert caught.value.status == 502 and "服务内部错误" in caught.value.message


def test_error_end_of_stream_after_output_is_a_failure_event(mock, client):
    error = {"code": "internal", "message": "boom"}
    add_chat(mock, frames(*opening(), text("part"), end={"error": error}))
    events = list(client.chat(turn()))
    assert events[0] == ChatStarted(CHAT, ASSISTANT)
    assert text_of(events) == "part"
    assert isinstance(events[-1], UpstreamFailed)
    assert "boom" in events[-1].error.message


def test_error_after_chat_creation_announces_the_chat_first(mock, client):
    error = {"code": "resource_exhausted", "message": "too many"}
    add_chat(mock, frames(opening()[0], end={"error": error}))
    events = list(client.chat(turn()))
    assert events[0] == ChatStarted(CHAT, None)
    assert isinstance(events[1], UpstreamFailed)
    assert isinstance(events[1].error, RateLimited)


def test_overloaded_error_frame(mock, client):
    error = {
        "code": "unavailable",
        "message": "busy",
        "details": [
            {
                "debug": {
                    "reason": "REASON_COMPLETION_OVERLOADED",
                    "localizedMessage": {"message": "Kimi 现在有点累了"},
                }
            }
        ],
    }
    add_chat(mock, frames(*opening(), text("a"), {"done": {}}, {"error": error}, end={}))
    events = list(client.chat(turn()))
    failure = events[-1]
    assert isinstance(failure, UpstreamFailed)
    assert isinstance(failure.error, UpstreamUnavailable)
    assert "有点累了" in failure.error.message


def test_block_exception(mock, client):
    exception = {
        "mask": "block.exception",
        "block": {"id": "2_0", "exception": {"error": {"reason": "REASON_COMPLETION_OVERLOADED"}}},
    }
    add_chat(mock, frames(*opening(), text("a"), exception, end={}))
    failure = list(client.chat(turn()))[-1]
    assert isinstance(failure, UpstreamFailed)
    assert isinstance(failure.error, UpstreamUnavailable)


def test_cut_stream(mock, client):
    add_chat(mock, frames(*opening(), text("You said")))
    failure = list(client.chat(turn()))[-1]
    assert isinstance(failure, UpstreamFailed)
    assert "the answer was cut off" in failure.error.message


def test_done_without_end_of_stream_is_finished(mock, client):
    add_chat(mock, frames(*opening(), text("ok"), {"done": {}}))
    assert list(client.chat(turn()))[-1] == Finished("stop")


def test_empty_answer(mock, client):
    add_chat(mock, frames(*opening(), *ENDING, end={}))
    assert list(client.chat(turn())) == [ChatStarted(CHAT, ASSISTANT), Finished("stop")]


def test_malformed_envelope(mock, client):
    body = frames(*opening(), text("You said")) + b'\x00\x00\x00\x10\x00{"op":'
    add_chat(mock, body)
    events = list(client.chat(turn()))
    assert text_of(events) == "You said"
    assert isinstance(events[-1], UpstreamFailed)
    assert type(events[-1].error) is UpstreamError
    assert "frame" in events[-1].error.message


def test_401_refreshes_and_retries(mock, client):
    mock.post(BASE + CHAT_PATH, status=401, body="token is expired")
    add_chat(mock, HELLO)
    events = list(client.chat(turn()))
    assert events[-1] == Finished("stop")
    assert len([c for c in mock.calls if c.request.url == ROTATING_URL]) == 2
    assert len(chat_calls(mock)) == 2


def test_unauthenticated_end_of_stream_refreshes_and_retries(mock, client):
    add_chat(mock, frames(end={"error": {"code": "unauthenticated", "message": "expired"}}))
    add_chat(mock, HELLO)
    events = list(client.chat(turn()))
    assert events[-1] == Finished("stop")
    assert len(chat_calls(mock)) == 2


def test_second_401_is_authentication_failed(mock, client):
    mock.post(BASE + CHAT_PATH, status=401, body="unauthenticated")
    with pytest.raises(AuthenticationFailed) as caught:
        list(client.chat(turn()))
    assert "Kimi rejected the token" in caught.value.message
    assert TOKEN not in caught.value.message and ACCESS not in caught.value.message


def test_access_jwt_is_used_directly(mock, client):
    add_chat(mock, HELLO)
    jwt = make_jwt(sub="direct")
    list(client.chat(ChatTurn(credential=jwt, prompt="x", model=parse_model("kimi"))))
    assert chat_calls(mock)[0].request.headers["Authorization"] == f"Bearer {jwt}"
    assert not [c for c in mock.calls if c.request.url in (ROTATING_URL, REFRESH_URL)]


def test_closing_the_generator_closes_the_response(mock, client):
    body = chunked_body([frames(*opening(), text("first")), frames(text("more"))])
    add_chat(mock, body)
    events = client.chat(turn())
    assert next(events) == ChatStarted(CHAT, ASSISTANT)
    assert next(events) == TextDelta("first")
    events.close()
    assert body.closed


# -- continuing a chat ------------------------------------------------------------------------


MESSAGES = [
    {"id": "u1", "role": "user", "parentId": ""},
    {"id": "a1", "role": "assistant", "parentId": "u1"},
    {"id": "u2", "role": "user", "parentId": "a1"},
    {"id": "a2", "role": "assistant", "parentId": "u2"},
]


def test_latest_assistant_id():
    assert latest_assistant_id(MESSAGES) == "a2"
    assert latest_assistant_id(list(reversed(MESSAGES))) == "a2"
    # Every assistant message is someone's parent (odd data): the first one listed.
    looped = [*MESSAGES, {"id": "u3", "role": "user", "parentId": "a2"}]
    assert latest_assistant_id(looped) == "a1"
    assert latest_assistant_id([{"id": "u1", "role": "user"}]) is None
    assert latest_assistant_id([]) is None


def test_continuation_looks_up_the_parent_once(mock, client):
    mock.post(BASE + LIST_MESSAGES_PATH, json={"messages": MESSAGES})
    next_assistant = "a3"
    opening_again = [
        {"op": "set", "chat": {"id": CHAT}},
        {
            "op": "set",
            "mask": "message",
            "message": {"id": next_assistant, "parentId": "u3", "role": "assistant"},
        },
    ]
    add_chat(mock, frames(*opening_again, text("again"), *ENDING, end={}))
    events = list(client.chat(turn("more", chat_id=CHAT)))
    assert events[0] == ChatStarted(CHAT, next_assistant)
    request = chat_request(chat_calls(mock)[0])
    assert request["chat_id"] == CHAT
    assert request["message"]["parent_id"] == "a2"
    listing = [c for c in mock.calls if c.request.url == BASE + LIST_MESSAGES_PATH]
    assert json.loads(listing[0].request.body)["chat_id"] == CHAT

    # The next turn from this process knows its parent without asking.
    add_chat(mock, HELLO)
    list(client.chat(turn("again", chat_id=CHAT)))
    assert chat_request(chat_calls(mock)[1])["message"]["parent_id"] == next_assistant
    assert len([c for c in mock.calls if c.request.url == BASE + LIST_MESSAGES_PATH]) == 1


def test_new_chat_answer_is_remembered_as_parent(mock, client):
    add_chat(mock, HELLO)
    list(client.chat(turn()))
    assert client.parent_for(TOKEN, CHAT) == ASSISTANT


def test_continuation_of_unknown_chat_is_not_found(mock, client):
    mock.post(BASE + LIST_MESSAGES_PATH, status=404, json={"code": "not_found", "message": "no"})
    with pytest.raises(NotFound) as caught:
        list(client.chat(turn(chat_id="nope")))
    assert caught.value.status == 404
    assert caught.value.param == "conversation_id"


def test_error_before_output_on_continuation_is_raised(mock, client):
    mock.post(BASE + LIST_MESSAGES_PATH, json={"messages": MESSAGES})
    add_chat(
        mock,
        frames(
            {"op": "set", "chat": {"id": CHAT}},
            end={"error": {"code": "resource_exhausted", "message": "x"}},
        ),
    )
    with pytest.raises(RateLimited):
        list(client.chat(turn(chat_id=CHAT)))


# -- delete and upload ------------------------------------------------------------------------


def test_delete_chat(mock, client):
    mock.post(BASE + DELETE_CHAT_PATH, json={})
    client.delete_chat(TOKEN, CHAT)
    call = mock.calls[-1]
    assert json.loads(call.request.body) == {"chat_id": CHAT}
    assert call.request.headers["Authorization"] == f"Bearer {ACCESS}"


@pytest.mark.parametrize(
    "status,body", [(404, {"code": "not_found", "message": "gone"}), (404, "")]
)
def test_delete_tolerates_a_gone_chat(mock, client, status, body):
    mock.post(BASE + DELETE_CHAT_PATH, status=status, json=body)
    client.delete_chat(TOKEN, CHAT)


def test_delete_forgets_the_parent(mock, client):
    add_chat(mock, HELLO)
    list(client.chat(turn()))
    mock.post(BASE + DELETE_CHAT_PATH, json={})
    client.delete_chat(TOKEN, CHAT)
    assert client.history.remembered(TOKEN, CHAT) is None


def test_upload(mock, client):
    received = {}

    def upload(request):
        body = request.body
        received["body"] = body if isinstance(body, bytes) else b"".join(body)
        received["type"] = request.headers["Content-Type"]
        return 200, {}, json.dumps({"file": {"id": "file-9", "name": "a.pdf"}})

    mock.add_callback("POST", BASE + UPLOAD_PATH, callback=upload)
    data = b"%PDF-1.7 " + bytes(range(256)) * 10
    uploaded = client.upload_file(
        TOKEN, "a.pdf", "application/pdf", io.BytesIO(data), len(data), "file"
    )
    assert uploaded == UploadedFile(
        "file-9", "a.pdf", len(data), "application/pdf", "file", {"id": "file-9", "name": "a.pdf"}
    )
    assert received["type"].startswith("multipart/form-data; boundary=")
    boundary = received["type"].split("boundary=")[1].encode()
    assert received["body"].startswith(b"--" + boundary + b"\r\n")
    assert b'name="file"; filename="a.pdf"' in received["body"]
    assert data in received["body"]


def test_upload_retry_after_401_resends_the_whole_file(mock, client):
    bodies = []

    def upload(request):
        body = request.body
        bodies.append(body if isinstance(body, bytes) else b"".join(body))
        if len(bodies) == 1:
            return 401, {}, "token is expired"
        return 200, {}, json.dumps({"file": {"id": "file-1"}})

    mock.add_callback("POST", BASE + UPLOAD_PATH, callback=upload)
    data = b"x" * 1000
    uploaded = client.upload_file(TOKEN, "a.txt", "text/plain", io.BytesIO(data), 1000, "file")
    assert uploaded.id == "file-1"
    assert len(bodies) == 2 and bodies[0] == bodies[1]
    assert data in bodies[1]


def test_upload_without_id_is_upstream_error(mock, client):
    mock.post(BASE + UPLOAD_PATH, json={"file": {}})
    with pytest.raises(UpstreamError, match="a.txt"):
        client.upload_file(TOKEN, "a.txt", "text/plain", io.BytesIO(b"x"), 1, "file")


# -- found in review --------------------------------------------------------------------------


def _echoing(message: str) -> dict[str, bytes]:
    exception = {"block": {"id": "2_0", "exception": {"error": {"message": message}}}}
    return {
        "end-of-stream": frames(*opening(), text("a"), end={"error": {"message": message}}),
        "error frame": frames(*opening(), text("a"), {"error": {"message": message}}, end={}),
        "block exception": frames(*opening(), text("a"), exception, end={}),
    }


@pytest.mark.parametrize("where", list(_echoing("x")))
def test_errors_in_the_stream_never_quote_the_token(mock, client, where):
    add_chat(mock, _echoing(f"refused token {TOKEN} here")[where])
    failure = list(client.chat(turn()))[-1]
    assert isinstance(failure, UpstreamFailed)
    assert TOKEN not in failure.error.message
    assert "[redacted]" in failure.error.message


def test_parent_is_remembered_when_the_caller_stops_reading(mock, client):
    add_chat(mock, HELLO)
    list(client.chat(turn()))
    assert client.parent_for(TOKEN, CHAT) == ASSISTANT
    opening_again = [
        {"op": "set", "chat": {"id": CHAT}},
        {"op": "set", "mask": "message", "message": {"id": "a-next", "role": "assistant"}},
    ]
    add_chat(mock, chunked_body([frames(*opening_again, text("part")), frames(*ENDING, end={})]))
    events = client.chat(turn("more", chat_id=CHAT))
    assert next(events) == ChatStarted(CHAT, "a-next")
    events.close()
    # The answer goes on upstream; the next turn must follow it, not the one before.
    assert client.parent_for(TOKEN, CHAT) == "a-next"


def test_compressed_stream_is_read(mock):
    mock.add_passthru("http://127.0.0.1")
    with encoded_server(HELLO, "gzip", "application/connect+json") as url:
        client = ConnectClient(settings("connect", UPSTREAM=url))
        events = list(client.chat(ChatTurn(make_jwt(), "hi", parse_model("kimi"))))
        client.close()
    assert text_of(events) == "You said: hi"
    assert events[-1] == Finished("stop")


def test_identity_headers_come_from_the_token_claims(mock, client):
    claimed = make_jwt(sub="user-d", device_id="7309876543210987654", ssid="1730000000000000002")
    mock.replace("POST", ROTATING_URL, json={"accessToken": claimed, "refreshToken": "next"})
    add_chat(mock, HELLO)
    list(client.chat(turn()))
    headers = chat_calls(mock)[0].request.headers
    assert headers["X-Traffic-Id"] == "user-d"
    assert headers["X-Msh-Device-Id"] == "7309876543210987654"
    assert headers["X-Msh-Session-Id"] == "1730000000000000002"


def test_without_claims_the_session_ids_stay_and_no_traffic_id_is_sent(mock, client):
    bare = make_jwt(sub=None)
    mock.replace("POST", ROTATING_URL, json={"accessToken": bare, "refreshToken": "next"})
    add_chat(mock, HELLO)
    list(client.chat(turn()))
    headers = chat_calls(mock)[0].request.headers
    assert "X-Traffic-Id" not in headers
    assert headers["X-Msh-Device-Id"].isdigit() and headers["X-Msh-Session-Id"].isdigit()
