"""``rest`` chats: create, stream, search, thinking, long answers, split UTF-8, delete."""

from __future__ import annotations

import re

import pytest

from kimiproxy.emulator.replies import LONG_FIRST, LONG_SECOND, SPLIT_UTF8

ID_PATTERN = re.compile(r"^[0-9a-v]{20}$")


def _kinds(events):
    return [e["event"] for e in events]


def test_create_chat_both_body_variants(emu):
    token = emu.token()
    for body in (
        {
            "enter_method": "new_chat",
            "is_example": False,
            "kimiplus_id": "kimi",
            "name": "未命名会话",
        },
        {
            "name": "未命名会话",
            "born_from": "home",
            "kimiplus_id": "kimi",
            "is_example": False,
            "source": "web",
            "tags": [],
        },
    ):
        response = emu.client.post("/api/chat", json=body, headers=emu.auth(token))
        assert response.status_code == 200
        assert ID_PATTERN.match(response.json["id"])
        assert response.json["name"] == "未命名会话"


def test_default_reply_stream(emu):
    token = emu.token()
    chat_id = emu.create_chat(token)
    response, chunks = emu.complete(token, chat_id, "hello world")
    assert response.status_code == 200
    assert response.mimetype == "text/event-stream"
    events = emu.sse_events(chunks)
    assert len(chunks) == len(events)  # one write per event
    kinds = _kinds(events)
    assert kinds[:3] == ["req", "resp", "debug"]
    assert kinds[-3:] == ["rename", "done", "all_done"]
    # one "done" mid-answer (Kimi sends it sometimes), then more cmpl
    assert kinds[3:-3] == ["cmpl", "done", "cmpl", "cmpl"]
    assert events[0]["content"] == "hello world"
    assert all(len(e["text"]) <= 8 for e in events if e["event"] == "cmpl")
    assert emu.cmpl_text(events) == "You said: hello world"
    # the chat was renamed after the first turn only
    _, chunks = emu.complete(token, chat_id, "again")
    assert "rename" not in _kinds(emu.sse_events(chunks))
    chat = next(c for c in emu.chats() if c["id"] == chat_id)
    assert chat["protocol"] == "rest" and chat["name"] == "hello world"
    assert [t["reply"] for t in chat["turns"]] == ["You said: hello world", "You said: again"]


def test_search_results_come_first(emu):
    token = emu.token()
    chat_id = emu.create_chat(token)
    _, chunks = emu.complete(token, chat_id, "what is the weather today", use_search=True)
    events = emu.sse_events(chunks)
    kinds = _kinds(events)
    assert events[2]["message"]["need2search"] is True
    first_cmpl = kinds.index("cmpl")
    results = [e["msg"] for e in events[:first_cmpl] if e["event"] == "search_plus"]
    assert results[0] == {"type": "start"}
    assert [r["title"] for r in results[1:]] == [
        "Result 1 for what is the weather ",
        "Result 2 for what is the weather ",
    ]
    assert [r["url"] for r in results[1:]] == [
        "https://example.com/search/1",
        "https://example.com/search/2",
    ]
    assert emu.cmpl_text(events) == "You said: what is the weather today"


@pytest.mark.parametrize("extra", [{"kimiplus_id": "crm40ee9e5jvhsn7ptcg"}, {"model": "k1"}])
def test_thinking_comes_before_answer(emu, extra):
    token = emu.token()
    chat_id = emu.create_chat(token)
    _, chunks = emu.complete(token, chat_id, "why", **extra)
    events = emu.sse_events(chunks)
    kinds = _kinds(events)
    assert max(i for i, k in enumerate(kinds) if k == "k1") < kinds.index("cmpl")
    assert "".join(e["text"] for e in events if e["event"] == "k1") == "Thinking about: why"
    assert emu.cmpl_text(events) == "You said: why"


def test_long_reply_and_continuation(emu):
    token = emu.token()
    chat_id = emu.create_chat(token)
    _, chunks = emu.complete(token, chat_id, "write [[reply:long]]")
    events = emu.sse_events(chunks)
    assert _kinds(events)[-2:] == ["length", "all_done"]
    assert "done" not in _kinds(events)
    assert emu.cmpl_text(events) == LONG_FIRST
    segment_id = events[0]["id"]
    body = {
        "segment_id": segment_id,
        "action": "continue",
        "messages": [{"role": "user", "content": " "}],
        "extend": {"sidebar": True},
    }
    response, chunks = emu.complete(token, chat_id, None, **body)
    assert response.status_code == 200
    events = emu.sse_events(chunks)
    assert _kinds(events)[0] == "resp" and _kinds(events)[-1] == "all_done"
    assert "length" not in _kinds(events)
    assert emu.cmpl_text(events) == LONG_SECOND
    turn = next(c for c in emu.chats() if c["id"] == chat_id)["turns"][0]
    assert turn["reply"] == LONG_FIRST + LONG_SECOND and turn["continued"] is True


def test_continuation_needs_a_known_segment(emu):
    token = emu.token()
    chat_id = emu.create_chat(token)
    response, _ = emu.complete(
        token,
        chat_id,
        None,
        segment_id="nope",
        action="continue",
        messages=[{"role": "user", "content": " "}],
    )
    assert response.status_code == 400


def test_split_utf8_cuts_characters_across_writes(emu):
    token = emu.token()
    chat_id = emu.create_chat(token)
    _, chunks = emu.complete(token, chat_id, "[[reply:split-utf8]]")
    broken = 0
    for chunk in chunks:
        try:
            chunk.decode("utf-8")
        except UnicodeDecodeError:
            broken += 1
    assert broken > 0
    assert emu.cmpl_text(emu.sse_events(chunks)) == SPLIT_UTF8


def test_canned_and_empty_replies(emu):
    token = emu.token()
    chat_id = emu.create_chat(token)
    _, chunks = emu.complete(token, chat_id, "x [[reply:canned]]")
    assert emu.cmpl_text(emu.sse_events(chunks)) == "The quick brown fox jumps over the lazy dog."
    _, chunks = emu.complete(token, chat_id, "x [[reply:empty]]")
    events = emu.sse_events(chunks)
    assert "cmpl" not in _kinds(events) and _kinds(events)[-1] == "all_done"


def test_delete_then_not_found(emu):
    token = emu.token()
    chat_id = emu.create_chat(token)
    emu.complete(token, chat_id, "hi")
    response = emu.client.delete(f"/api/chat/{chat_id}", headers=emu.auth(token))
    assert response.status_code == 200
    response, _ = emu.complete(token, chat_id, "hi")
    assert response.status_code == 404
    assert response.json["error_type"] == "chat.not_found"
    response = emu.client.delete(f"/api/chat/{chat_id}", headers=emu.auth(token))
    assert response.status_code == 404
    response, _ = emu.complete(token, "cnnotachat0000000000", "hi")
    assert response.json["error_type"] == "chat.not_found"
    chat = next(c for c in emu.chats() if c["id"] == chat_id)
    assert chat["deleted"] is True and len(chat["turns"]) == 1


def test_other_accounts_chat_is_forbidden(emu):
    chat_id = emu.create_chat(emu.token("alice"))
    response, _ = emu.complete(emu.token("bob"), chat_id, "hi")
    assert response.status_code == 403
    assert response.json["error_type"] == "chat.forbidden"


def test_research_usage_counts(app, emu):
    app.extensions["kimi_emulator"].options["research_total"] = 2
    token = emu.token()
    chat_id = emu.create_chat(token)
    usage = emu.client.get("/api/chat/research/usage", headers=emu.auth(token)).json
    assert usage == {"remain": 2, "total": 2, "used": 0}
    for _ in range(2):
        response, _ = emu.complete(token, chat_id, "research this", use_research=True)
        assert response.status_code == 200
    usage = emu.client.get("/api/chat/research/usage", headers=emu.auth(token)).json
    assert usage == {"remain": 0, "total": 2, "used": 2}
    response, _ = emu.complete(token, chat_id, "research this", use_research=True)
    assert response.status_code == 429
    other = emu.client.get("/api/chat/research/usage", headers=emu.auth(emu.token("bob"))).json
    assert other["used"] == 0


def test_research_total_option_defaults_to_20(emu):
    usage = emu.client.get("/api/chat/research/usage", headers=emu.auth(emu.token())).json
    assert usage == {"remain": 20, "total": 20, "used": 0}


def test_side_calls(emu):
    token = emu.token()
    headers = emu.auth(token)
    chat_id = emu.create_chat(token)
    assert emu.client.post(f"/api/chat/{chat_id}/pre-n2s", json={}, headers=headers).json == {}
    size = emu.client.post(
        f"/api/chat/{chat_id}/token_size", json={"content": "abcd", "refs": []}, headers=headers
    )
    assert size.json == {"size": 4}
    assert emu.client.post("/api/suggestion", json={}, headers=headers).status_code == 200
    listed = emu.client.post("/api/chat/list", json={"offset": 0, "size": 10}, headers=headers)
    assert [item["id"] for item in listed.json["items"]] == [chat_id]


def test_refs_must_name_uploaded_files(emu):
    token = emu.token()
    chat_id = emu.create_chat(token)
    response, _ = emu.complete(token, chat_id, "hi", refs=["cpnotafile"])
    assert response.status_code == 400
    assert response.json["error_type"] == "file.not_found"
    response, _ = emu.complete(token, chat_id, "hi", refs_file=[{"id": "cpnotafile"}])
    assert response.status_code == 400


def test_bad_body_is_a_400(emu):
    token = emu.token()
    chat_id = emu.create_chat(token)
    response, _ = emu.complete(token, chat_id, None, messages=[])
    assert response.status_code == 400
    assert set(response.json) == {"error_type", "message", "detail"}


@pytest.mark.parametrize(
    "body",
    [
        {"offset": "a", "size": -1},
        {"offset": -1},
        {"size": -1},
        {"size": "10"},
        {"offset": 1.5},
        {"size": True},
        {"offset": None},
        {"offset": [0]},
    ],
)
def test_chat_list_validates_offset_and_size(emu, body):
    token = emu.token()
    emu.create_chat(token)
    response = emu.client.post("/api/chat/list", json=body, headers=emu.auth(token))
    assert response.status_code == 400
    assert response.json["error_type"] == "request.invalid"
    assert set(response.json) == {"error_type", "message", "detail"}


def test_chat_list_slices_newest_first(emu):
    token = emu.token()
    first, second, third = (emu.create_chat(token) for _ in range(3))

    def listed(body):
        response = emu.client.post("/api/chat/list", json=body, headers=emu.auth(token))
        assert response.status_code == 200, response.json
        assert response.json["total"] == 3
        return [item["id"] for item in response.json["items"]]

    assert listed({}) == [third, second, first]
    assert listed({"offset": 1, "size": 1}) == [second]
    assert listed({"offset": 0, "size": 2}) == [third, second]
    assert listed({"offset": 2}) == [first]
    assert listed({"size": 0}) == []
    assert listed({"offset": 5, "size": 5}) == []


def test_mid_answer_done_keeps_the_text(emu):
    token = emu.token()
    chat_id = emu.create_chat(token)
    prompt = "a longer prompt, so the answer takes several deltas"
    _, chunks = emu.complete(token, chat_id, prompt, use_search=True, model="k1")
    events = emu.sse_events(chunks)
    kinds = _kinds(events)
    assert kinds.count("done") == 2 and kinds[-2:] == ["done", "all_done"]
    middle = kinds.index("done")
    assert "cmpl" in kinds[:middle] and "cmpl" in kinds[middle + 1 : -2]
    assert max(i for i, k in enumerate(kinds) if k == "k1") < kinds.index("cmpl")
    assert emu.cmpl_text(events) == "You said: " + prompt
    turn = next(c for c in emu.chats() if c["id"] == chat_id)["turns"][0]
    assert turn["reply"] == "You said: " + prompt


def test_scripted_replies_have_no_mid_answer_done(emu):
    token = emu.token()
    chat_id = emu.create_chat(token)
    for prompt in ("[[reply:canned]]", "[[reply:split-utf8]]", "[[reply:empty]]"):
        _, chunks = emu.complete(token, chat_id, prompt)
        assert _kinds(emu.sse_events(chunks)).count("done") == 1
