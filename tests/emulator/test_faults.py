"""Every chat fault in both protocols, queued or by prompt marker."""

from __future__ import annotations

import time

import pytest

from kimiproxy.emulator.faults import OVERLOADED_MESSAGE


@pytest.fixture
def rest(emu):
    token = emu.token()
    chat_id = emu.create_chat(token)

    def call(content="hello there, this is long enough"):
        return emu.complete(token, chat_id, content)

    return call


@pytest.fixture
def connect(emu):
    token = emu.token()

    def call(content="hello there, this is long enough"):
        return emu.chat_connect(token, content)

    return call


def _kinds(events):
    return [e["event"] if isinstance(e, dict) else e for e in events]


def test_expired_token(emu, rest, connect):
    emu.fault("expired_token")
    response, _ = rest()
    assert response.status_code == 401 and response.json["error_type"] == "auth.token.invalid"
    response, _ = rest()
    assert response.status_code == 200
    emu.fault("expired_token")
    response, _, _ = connect()
    assert response.status_code == 401 and response.get_data(as_text=True) == "token is expired"
    assert connect()[0].status_code == 200


def test_stream_pushing(emu, rest, connect):
    emu.fault("stream_pushing")
    response, _ = rest()
    assert response.status_code == 400
    assert response.json["error_type"] == "chat.user_stream_pushing"
    emu.fault("stream_pushing")
    response, _, frames = connect()
    assert response.status_code == 200
    assert frames == [
        (2, {"error": {"code": "resource_exhausted", "message": "chat.user_stream_pushing"}})
    ]


def test_throttle(emu, rest, connect):
    emu.fault("throttle")
    response, _ = rest()
    assert response.status_code == 429 and response.headers["Retry-After"] == "3"
    assert response.json["error_type"] == "chat.rate_limit"
    emu.fault("throttle")
    response, _, _ = connect()
    assert response.status_code == 429 and response.headers["Retry-After"] == "3"
    assert response.mimetype == "application/json"
    assert response.json["code"] == "resource_exhausted" and response.json["message"]
    assert set(response.json) == {"code", "message"}
    assert connect()[0].status_code == 200  # used up


def test_throttle_stream(emu, rest, connect):
    emu.fault("throttle_stream")
    response, _, frames = connect()
    assert response.status_code == 200
    assert len(frames) == 1 and frames[0][0] == 2
    assert frames[0][1]["error"]["code"] == "resource_exhausted"
    assert frames[0][1]["error"]["message"]
    # rest has no end-of-stream trailer: the same 429 as throttle
    response, _ = rest("hi [[fault:throttle_stream]]")
    assert response.status_code == 429 and response.headers["Retry-After"] == "3"


def test_server_error(emu, rest, connect):
    emu.fault("server_error")
    response, _ = rest()
    assert response.status_code == 500 and response.json["message"] == "服务内部错误"
    emu.fault("server_error")
    assert connect()[0].status_code == 500


def test_cut_stream(emu, rest, connect):
    emu.fault("cut_stream")
    _, chunks = rest()
    kinds = _kinds(emu.sse_events(chunks))
    assert kinds.count("cmpl") == 2 and "all_done" not in kinds and "done" not in kinds
    emu.fault("cut_stream")
    _, _, frames = connect()
    assert frames[-1][0] == 0 and frames[-1][1]["mask"] == "block.text.content"
    assert sum(1 for _, f in frames if f.get("mask") == "block.text.content") == 2


def test_malformed_frame(emu, rest, connect):
    emu.fault("malformed_frame")
    _, chunks = rest()
    events = emu.sse_events(chunks)
    assert _kinds(events).count("cmpl") == 2 and events[-1] == "{not json"
    emu.fault("malformed_frame")
    _, chunks, frames = connect()
    assert frames is None  # the last envelope's length runs past the body
    assert chunks[-1][:1] == b"\x00" and int.from_bytes(chunks[-1][1:5], "big") > len(chunks[-1])


def test_error_event(emu, rest, connect):
    emu.fault("error_event")
    _, chunks = rest()
    events = emu.sse_events(chunks)
    assert events[-1]["event"] == "error"
    assert events[-1]["error"]["error_type"] == "openai.completion.stream"
    assert events[-1]["error"]["message"] == OVERLOADED_MESSAGE
    assert _kinds(events).count("cmpl") == 2
    emu.fault("error_event")
    _, _, frames = connect()
    flag, error_frame = frames[-2]
    assert flag == 0 and error_frame["error"]["code"] == "unavailable"
    debug = {
        "reason": "REASON_COMPLETION_OVERLOADED",
        "localizedMessage": {"message": OVERLOADED_MESSAGE},
    }
    assert error_frame["error"]["details"] == [{"debug": debug}]
    assert error_frame["error"]["message"] == OVERLOADED_MESSAGE
    assert frames[-1][0] == 2 and frames[-1][1]["error"]["code"] == "unavailable"
    assert frames[-1][1]["error"]["details"] == [{"debug": debug}]


def test_block_exception(emu, rest, connect):
    emu.fault("block_exception")
    response, _, frames = connect()
    assert response.status_code == 200
    data = [f for flag, f in frames if flag == 0]
    assert sum(1 for f in data if f.get("mask") == "block.text.content") == 2
    masks = [f.get("mask") for f in data]
    exception = data[masks.index("block.exception")]
    assert exception["op"] == "set" and exception["block"]["id"] == "2_0"
    error = exception["block"]["exception"]["error"]
    assert error["reason"] == "REASON_COMPLETION_OVERLOADED"
    assert error["localizedMessage"] == {"message": OVERLOADED_MESSAGE}
    # the stream then closes normally: only the block carries the error
    status = data[masks.index("block.exception") + 1]
    assert status["message"]["status"] == "MESSAGE_STATUS_FAILED"
    assert data[-1] == {"done": {}} and frames[-1] == (2, {})
    assert emu.text_of(frames) == "You said: hello "
    offsets = [f["eventOffset"] for f in data if "op" in f]
    assert offsets == sorted(offsets) and len(set(offsets)) == len(offsets)
    # rest answers it like error_event
    emu.fault("block_exception")
    _, chunks = rest()
    events = emu.sse_events(chunks)
    assert events[-1]["event"] == "error" and events[-1]["error"]["message"] == OVERLOADED_MESSAGE
    assert _kinds(events).count("cmpl") == 2


def _gaps(chunk_times):
    return [b - a for a, b in zip(chunk_times, chunk_times[1:], strict=False)]


def test_slow_chunks(emu):
    token = emu.token()
    chat_id = emu.create_chat(token)
    emu.fault("slow_chunks")
    response = emu.client.post(
        f"/api/chat/{chat_id}/completion/stream",
        json={"messages": [{"role": "user", "content": "hi"}], "kimiplus_id": "kimi"},
        headers=emu.auth(token),
    )
    times = []
    for _ in response.response:
        times.append(time.monotonic())
    response.close()
    assert len(times) > 3 and min(_gaps(times)) >= 0.45


def test_slow_chunks_connect(app, emu):
    app.extensions["kimi_emulator"].options["slow_chunk_delay"] = 0.1
    response = emu.client.post(
        "/apiv2/kimi.gateway.chat.v1.ChatService/Chat",
        data=emu.connect_envelope(
            {
                "message": {
                    "role": "user",
                    "blocks": [{"message_id": "", "text": {"content": "hi [[fault:slow_chunks]]"}}],
                }
            }
        ),
        headers={**emu.auth(emu.token()), "Content-Type": "application/connect+json"},
    )
    times = [time.monotonic() for _ in response.response]
    response.close()
    assert len(times) > 3 and min(_gaps(times)) >= 0.09


def test_prompt_marker_and_times(emu, rest, connect):
    response, _ = rest("hi [[fault:server_error]]")
    assert response.status_code == 500
    assert rest("hi")[0].status_code == 200
    response, _, _ = connect("hi [[fault:server_error]]")
    assert response.status_code == 500
    emu.fault("server_error", times=2)
    assert rest()[0].status_code == 500
    assert connect()[0].status_code == 500
    assert rest()[0].status_code == 200


def test_file_faults_do_not_hit_chats_and_back(emu, rest):
    emu.fault("parse_fail")
    assert rest()[0].status_code == 200
    emu.fault("server_error")
    response = emu.upload_connect(emu.token(), "a.txt", b"abc")
    assert response.status_code == 400  # parse_fail, still queued for the upload
    assert rest()[0].status_code == 500


def test_unknown_fault_refused(emu):
    response = emu.client.post("/_emulator/faults", json={"fault": "nope"})
    assert response.status_code == 400
    response = emu.client.post("/_emulator/faults", json={"fault": "throttle", "times": 0})
    assert response.status_code == 400
