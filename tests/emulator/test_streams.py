"""Kimi's one stream per account (on by default) and the prompt release of a stream's slot."""

from __future__ import annotations

import pytest

from kimiproxy.emulator.streaming import StreamBody

CHAT_RPC = "/apiv2/kimi.gateway.chat.v1.ChatService/Chat"


def _body(content: str = "hi") -> dict:
    return {"messages": [{"role": "user", "content": content}], "kimiplus_id": "kimi"}


def _open_rest(emu, token: str, chat_id: str, content: str = "hi"):
    """A completion response whose body has not been read (the stream is still open)."""
    return emu.client.post(
        f"/api/chat/{chat_id}/completion/stream", json=_body(content), headers=emu.auth(token)
    )


def _open_connect(emu, token: str, content: str = "hi", **fields):
    payload = {"message": {"role": "user", "blocks": [{"text": {"content": content}}]}, **fields}
    return emu.client.post(
        CHAT_RPC,
        data=emu.connect_envelope(payload),
        headers={**emu.auth(token), "Content-Type": "application/connect+json"},
    )


def _streams(emu) -> list[dict]:
    return emu.client.get("/_emulator/streams").json["streams"]


def test_one_stream_per_account_is_the_default(emu):
    token = emu.token()
    chat_id, other_chat = emu.create_chat(token), emu.create_chat(token)
    open_stream = _open_rest(emu, token, chat_id)
    assert open_stream.status_code == 200
    assert [s["chat_id"] for s in _streams(emu)] == [chat_id]
    for target in (chat_id, other_chat):
        second = _open_rest(emu, token, target)
        assert second.status_code == 400
        assert second.json["error_type"] == "chat.user_stream_pushing"
    response, _, frames = emu.chat_connect(token, "hi")
    assert response.status_code == 200
    assert frames == [
        (2, {"error": {"code": "resource_exhausted", "message": "chat.user_stream_pushing"}})
    ]
    # another account is not affected
    bob = emu.token("bob")
    response, _, frames = emu.chat_connect(bob, "hi")
    assert emu.text_of(frames) == "You said: hi"
    response, _ = emu.complete(bob, emu.create_chat(bob), "hi")
    assert response.status_code == 200
    open_stream.close()
    assert _streams(emu) == []
    response, _ = emu.complete(token, other_chat, "hi")
    assert response.status_code == 200


def test_a_connect_stream_holds_the_account_too(emu):
    token = emu.token()
    open_stream = _open_connect(emu, token)
    assert open_stream.status_code == 200
    _, _, frames = emu.chat_connect(token, "again")
    assert frames[0][1]["error"]["message"] == "chat.user_stream_pushing"
    response = _open_rest(emu, token, emu.create_chat(token))
    assert response.json["error_type"] == "chat.user_stream_pushing"
    open_stream.close()
    _, _, frames = emu.chat_connect(token, "again")
    assert emu.text_of(frames) == "You said: again"


@pytest.mark.parametrize("options", [{"one_stream_per_account": False}])
def test_option_off_allows_concurrent_streams(emu):
    token = emu.token()
    chat_id = emu.create_chat(token)
    first = _open_rest(emu, token, chat_id)
    response, _ = emu.complete(token, chat_id, "second")
    assert response.status_code == 200
    _, _, frames = emu.chat_connect(token, "third")
    assert emu.text_of(frames) == "You said: third"
    assert len(_streams(emu)) == 1  # the first one, still open
    first.close()
    assert _streams(emu) == []


def test_slot_is_free_once_the_last_chunk_is_handed_out(emu):
    """A client that has read the whole answer may start the next one at once, even before the
    server has closed the response."""
    token = emu.token()
    chat_id = emu.create_chat(token)
    for protocol in ("rest", "connect"):
        if protocol == "rest":
            response = _open_rest(emu, token, chat_id)
        else:
            response = _open_connect(emu, token)
        chunks = iter(response.response)
        next(chunks)
        assert len(_streams(emu)) == 1
        rest = list(chunks)  # everything, but close() is not called
        assert rest and _streams(emu) == []
        response.close()
    assert _streams(emu) == []


@pytest.mark.parametrize("protocol", ["rest", "connect"])
@pytest.mark.parametrize(
    "fault", ["cut_stream", "malformed_frame", "error_event", "block_exception", "slow_chunks"]
)
def test_slot_is_released_after_faulty_streams(app, emu, protocol, fault):
    app.extensions["kimi_emulator"].options["slow_chunk_delay"] = 0.01
    token = emu.token()
    emu.fault(fault)
    if protocol == "rest":
        response = _open_rest(emu, token, emu.create_chat(token), "long enough to be cut off")
    else:
        response = _open_connect(emu, token, "long enough to be cut off")
    assert response.status_code == 200
    list(response.response)  # read to the end without closing
    assert _streams(emu) == []
    response.close()
    response, _, frames = emu.chat_connect(token, "next")
    assert emu.text_of(frames) == "You said: next"


@pytest.mark.parametrize("protocol", ["rest", "connect"])
def test_client_leaving_mid_stream_releases_the_slot(emu, protocol):
    token = emu.token()
    if protocol == "rest":
        response = _open_rest(emu, token, emu.create_chat(token))
    else:
        response = _open_connect(emu, token)
    chunks = iter(response.response)
    next(chunks)
    next(chunks)
    response.close()  # what the WSGI server does when the client goes away
    assert _streams(emu) == []
    _, _, frames = emu.chat_connect(token, "next")
    assert emu.text_of(frames) == "You said: next"


def test_stream_body_releases_once_however_it_ends():
    released = []

    def body():
        return StreamBody([b"a", b"b", b"c"], release=lambda: released.append(1))

    # read to the end: released as the last chunk is handed out
    stream = body()
    chunks = iter(stream)
    assert [next(chunks), next(chunks)] == [b"a", b"b"] and released == []
    assert next(chunks) == b"c" and released == [1]
    assert list(chunks) == []
    stream.close()
    assert released == [1]
    # the generator is closed mid-stream (GeneratorExit), without close() on the body
    released.clear()
    chunks = iter(body())
    next(chunks)
    chunks.close()
    assert released == [1]
    # the client left before the first chunk: only close() is called
    released.clear()
    stream = body()
    stream.close()
    stream.close()
    assert released == [1]
    # an empty body
    released.clear()
    assert list(StreamBody([], release=lambda: released.append(1))) == []
    assert released == [1]


def test_deleting_the_chat_releases_its_stream(emu):
    token = emu.token()
    chat_id, other_chat = emu.create_chat(token), emu.create_chat(token)
    open_stream = _open_rest(emu, token, chat_id)
    assert len(_streams(emu)) == 1
    assert emu.client.delete(f"/api/chat/{chat_id}", headers=emu.auth(token)).status_code == 200
    assert _streams(emu) == []
    response, _ = emu.complete(token, other_chat, "next")
    assert response.status_code == 200
    open_stream.close()  # closing later is harmless
    assert _streams(emu) == []

    open_stream = _open_connect(emu, token)
    chunks = iter(open_stream.response)
    chat = emu.connect_frames(next(chunks))[0][1]["chat"]
    assert [s["chat_id"] for s in _streams(emu)] == [chat["id"]]
    response = emu.unary(token, "kimi.chat.v1.ChatService/DeleteChat", {"chat_id": chat["id"]})
    assert response.status_code == 200
    assert _streams(emu) == []
    _, _, frames = emu.chat_connect(token, "next")
    assert emu.text_of(frames) == "You said: next"
    open_stream.close()


def test_deleting_another_chat_keeps_the_stream(emu):
    token = emu.token()
    chat_id, other_chat = emu.create_chat(token), emu.create_chat(token)
    open_stream = _open_rest(emu, token, chat_id)
    emu.client.delete(f"/api/chat/{other_chat}", headers=emu.auth(token))
    assert len(_streams(emu)) == 1
    open_stream.close()


def test_continuation_is_a_stream_too(emu):
    token = emu.token()
    chat_id = emu.create_chat(token)
    _, chunks = emu.complete(token, chat_id, "[[reply:long]]")
    segment_id = emu.sse_events(chunks)[0]["id"]
    open_stream = _open_rest(emu, token, emu.create_chat(token))
    body = {"segment_id": segment_id, "action": "continue", "messages": [{"content": " "}]}
    response = emu.client.post(
        f"/api/chat/{chat_id}/completion/stream", json=body, headers=emu.auth(token)
    )
    assert response.json["error_type"] == "chat.user_stream_pushing"
    open_stream.close()
    response, _ = emu.complete(token, chat_id, None, **body)
    assert response.status_code == 200 and _streams(emu) == []


@pytest.mark.parametrize("protocol", ["rest", "connect"])
def test_a_crash_while_preparing_the_answer_releases_the_slot(emu, monkeypatch, protocol):
    from kimiproxy.emulator.connect import chat as connect_api
    from kimiproxy.emulator.rest import completion as rest_completion

    module = rest_completion if protocol == "rest" else connect_api

    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    token = emu.token()
    chat_id = emu.create_chat(token)
    with monkeypatch.context() as patch:
        patch.setattr(module, "build_reply", broken)
        if protocol == "rest":
            response = _open_rest(emu, token, chat_id)
        else:
            response = _open_connect(emu, token)
        assert response.status_code == 500
    assert _streams(emu) == []
    response, _ = emu.complete(token, chat_id, "next")
    assert response.status_code == 200


def test_refusals_claim_no_slot(emu):
    token = emu.token()
    chat_id = emu.create_chat(token)
    for fault in ("throttle", "throttle_stream", "server_error", "stream_pushing"):
        emu.fault(fault)
        _open_rest(emu, token, chat_id).close()
        emu.fault(fault)
        _open_connect(emu, token).close()
        assert _streams(emu) == []
    _, _, frames = emu.chat_connect(token, "hi", chat_id="d3aaaaaaaaaaaaaaaaaa")
    assert frames[0][1]["error"]["code"] == "not_found" and _streams(emu) == []


def test_reset_forgets_open_streams(emu):
    token = emu.token()
    open_stream = _open_rest(emu, token, emu.create_chat(token))
    emu.client.post("/_emulator/reset")
    assert _streams(emu) == []
    token = emu.token()
    response, _ = emu.complete(token, emu.create_chat(token), "hi")
    assert response.status_code == 200
    open_stream.close()  # a stale release after the reset is harmless


def test_the_stream_history_shows_every_claim_granted_or_refused(emu):
    token = emu.token()
    chat_id = emu.create_chat(token)
    open_stream = _open_rest(emu, token, chat_id)
    assert _open_rest(emu, token, chat_id).status_code == 400
    open_stream.close()
    emu.chat_connect(token, "again")
    history = emu.client.get("/_emulator/stream_history").json["streams"]
    first, refused, second = history
    assert first["id"] and not first["refused"] and first["chat_id"] == chat_id
    assert refused["refused"] and refused["id"] is None
    assert first["started_at"] <= refused["started_at"] <= first["ended_at"]
    assert not second["refused"] and second["started_at"] >= first["ended_at"]
    assert {entry["account"] for entry in history} == {first["account"]}
    emu.client.post("/_emulator/reset")
    assert emu.client.get("/_emulator/stream_history").json["streams"] == []


def test_an_open_stream_has_no_end_in_the_history(emu):
    token = emu.token()
    open_stream = _open_connect(emu, token)
    (entry,) = emu.client.get("/_emulator/stream_history").json["streams"]
    assert entry["ended_at"] is None
    open_stream.close()
    (entry,) = emu.client.get("/_emulator/stream_history").json["streams"]
    assert entry["ended_at"] >= entry["started_at"]
