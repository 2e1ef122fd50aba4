"""``connect`` streaming Chat: framing, frames, multi-turn, thinking, search, errors."""

from __future__ import annotations

import hashlib
import re

from kimiproxy.emulator.replies import LONG_FIRST, LONG_SECOND, SPLIT_UTF8

CHAT_ID = re.compile(r"^d3[0-9a-v]{18}$")


def _data(frames):
    return [f for flag, f in frames if flag == 0]


def test_new_chat_stream(emu):
    token = emu.token()
    response, chunks, frames = emu.chat_connect(token, "hello world")
    assert response.status_code == 200
    assert response.mimetype == "application/connect+json"
    assert len(chunks) == len(frames)  # one write per envelope
    assert frames[-1] == (2, {})
    data = _data(frames)
    chat = data[0]["chat"]
    assert CHAT_ID.match(chat["id"]) and chat["name"] == "Untitled Chat"
    user, assistant = data[1]["message"], data[2]["message"]
    assert user["role"] == "user" and user["blocks"][-1]["text"]["content"] == "hello world"
    assert assistant["role"] == "assistant" and assistant["parentId"] == user["id"]
    assert assistant["status"] == "MESSAGE_STATUS_GENERATING"
    masks = [f.get("mask") for f in data]
    assert masks.index("block.text") < masks.index("block.text.content")
    assert {"mask": "chat.name", "chat": {"name": "hello world"}}.items() <= data[-3].items()
    assert data[-2]["message"] == {"id": assistant["id"], "status": "MESSAGE_STATUS_COMPLETED"}
    assert data[-1] == {"done": {}}
    assert {"heartbeat": {}} in data
    assert emu.text_of(frames) == "You said: hello world"
    offsets = [f["eventOffset"] for f in data if "op" in f]
    assert offsets == sorted(offsets) and len(set(offsets)) == len(offsets)
    stored = next(c for c in emu.chats() if c["id"] == chat["id"])
    assert stored["protocol"] == "connect" and stored["turns"][0]["reply"] == emu.text_of(frames)


def test_continue_chat_and_list_messages(emu):
    token = emu.token()
    _, _, frames = emu.chat_connect(token, "first")
    data = _data(frames)
    chat_id, assistant_id = data[0]["chat"]["id"], data[2]["message"]["id"]
    _, _, frames = emu.chat_connect(token, "second", chat_id=chat_id, parent_id=assistant_id)
    data = _data(frames)
    assert data[0]["chat"]["id"] == chat_id
    assert data[1]["message"]["parentId"] == assistant_id
    assert "chat.name" not in [f.get("mask") for f in data]
    assert emu.text_of(frames) == "You said: second"
    # camelCase spellings work too
    _, _, frames = emu.chat_connect(token, "third", chatId=chat_id)
    assert _data(frames)[0]["chat"]["id"] == chat_id
    response = emu.unary(
        token, "kimi.gateway.chat.v1.ChatService/ListMessages", {"chat_id": chat_id, "page_size": 3}
    )
    messages = response.json["messages"]
    assert len(messages) == 3
    assert [m["role"] for m in messages] == ["assistant", "user", "assistant"]
    assert messages[0]["blocks"][-1]["text"]["content"] == "You said: third"
    assert {"id", "parentId", "role", "status", "blocks"} <= set(messages[0])
    assert len(next(c for c in emu.chats() if c["id"] == chat_id)["turns"]) == 3


def test_thinking_and_search_frames(emu):
    token = emu.token()
    _, _, frames = emu.chat_connect(
        token,
        "look it up",
        options={"thinking": True},
        tools=[{"type": "TOOL_TYPE_SEARCH", "search": {}}],
    )
    data = _data(frames)
    masks = [f.get("mask") for f in data]
    assert masks.index("block.search.webPages") < masks.index("block.text")
    assert masks.index("block.think") < masks.index("block.text")
    pages = data[masks.index("block.search.webPages")]["block"]["search"]["webPages"]
    assert [p["url"] for p in pages] == [
        "https://example.com/search/1",
        "https://example.com/search/2",
    ]
    assert pages[0]["title"] == "Result 1 for look it up"
    assert emu.text_of(frames, "think") == "Thinking about: look it up"
    assert emu.text_of(frames) == "You said: look it up"


def test_no_thinking_or_search_unless_asked(emu):
    _, _, frames = emu.chat_connect(emu.token(), "plain")
    masks = {f.get("mask") for f in _data(frames)}
    assert "block.think" not in masks and "block.search.webPages" not in masks


def test_long_reply_in_one_answer(emu):
    _, _, frames = emu.chat_connect(emu.token(), "[[reply:long]]")
    assert emu.text_of(frames) == LONG_FIRST + LONG_SECOND
    assert frames[-1] == (2, {})


def test_split_utf8_inside_envelopes(emu):
    _, chunks, frames = emu.chat_connect(emu.token(), "[[reply:split-utf8]]")
    assert emu.text_of(frames) == SPLIT_UTF8
    text_bytes = SPLIT_UTF8.encode()
    cut_inside = False
    for chunk in chunks:
        try:
            chunk.decode("utf-8")
        except UnicodeDecodeError:
            cut_inside = True
    assert cut_inside
    assert all(chunk != text_bytes for chunk in chunks)


def test_canned_and_empty(emu):
    token = emu.token()
    _, _, frames = emu.chat_connect(token, "[[reply:canned]]")
    assert emu.text_of(frames) == "The quick brown fox jumps over the lazy dog."
    _, _, frames = emu.chat_connect(token, "[[reply:empty]]")
    assert "block.text" not in {f.get("mask") for f in _data(frames)}
    assert frames[-1] == (2, {})


def test_unknown_or_deleted_chat_is_not_found(emu):
    token = emu.token()
    _, _, frames = emu.chat_connect(token, "hi", chat_id="d3aaaaaaaaaaaaaaaaaa")
    assert len(frames) == 1 and frames[0][0] == 2
    assert frames[0][1]["error"]["code"] == "not_found"
    _, _, frames = emu.chat_connect(token, "hi")
    chat_id = _data(frames)[0]["chat"]["id"]
    response = emu.unary(token, "kimi.chat.v1.ChatService/DeleteChat", {"chat_id": chat_id})
    assert response.status_code == 200
    _, _, frames = emu.chat_connect(token, "hi", chat_id=chat_id, parent_id="x")
    assert frames[0][0] == 2 and frames[0][1]["error"]["code"] == "not_found"
    assert next(c for c in emu.chats() if c["id"] == chat_id)["deleted"] is True


def test_wrong_parent_is_invalid(emu):
    token = emu.token()
    _, _, frames = emu.chat_connect(token, "hi")
    chat_id = _data(frames)[0]["chat"]["id"]
    _, _, frames = emu.chat_connect(token, "hi", chat_id=chat_id, parent_id="d3nosuchmessage00000")
    assert frames[0][1]["error"]["code"] == "invalid_argument"


def test_bad_framing_and_content_type(emu):
    token = emu.token()
    response, _, frames = emu.chat_connect(token, raw=b"\x00\x00\x00\x00\x09{}")
    assert response.status_code == 200
    assert frames[0][0] == 2 and frames[0][1]["error"]["code"] == "invalid_argument"
    response = emu.client.post(
        "/apiv2/kimi.gateway.chat.v1.ChatService/Chat", json={}, headers=emu.auth(token)
    )
    assert response.status_code == 415


def test_file_blocks_must_exist_and_name_the_file(emu):
    token = emu.token()
    blocks = [
        {"message_id": "", "file": {"id": "d3nosuchfile00000000"}},
        {"message_id": "", "text": {"content": "read it"}},
    ]
    _, _, frames = emu.chat_connect(token, blocks=blocks)
    assert frames[0][1]["error"]["code"] == "not_found"
    upload = emu.upload_connect(token, "report.md", b"# Report\n", "text/markdown")
    file_id = upload.json["file"]["id"]
    blocks[0]["file"]["id"] = file_id
    _, _, frames = emu.chat_connect(token, blocks=blocks)
    sha = hashlib.sha256(b"# Report\n").hexdigest()[:16]
    assert emu.text_of(frames) == (
        f"File report.md (text/markdown, 9 bytes, sha256 {sha})\nYou said: read it"
    )
    user = _data(frames)[1]["message"]
    assert user["blocks"][0]["file"]["id"] == file_id


def test_text_blocks_carry_answer_flags(emu):
    _, _, frames = emu.chat_connect(emu.token(), "flags please")
    data = _data(frames)
    opening = next(f for f in data if f.get("mask") == "block.text")
    assert opening["block"]["text"] == {"content": "", "flags": "answer"}
    assert emu.text_of(frames) == "You said: flags please"


def test_thinking_is_wrapped_in_a_multistage_block(emu):
    _, _, frames = emu.chat_connect(emu.token(), "ponder", options={"thinking": True})
    data = _data(frames)
    masks = [f.get("mask") for f in data]
    stages = [f for f in data if f.get("mask") == "block.multiStage"]
    assert len(stages) == 2
    statuses = []
    for frame in stages:
        assert frame["op"] == "set" and "eventOffset" in frame
        (stage,) = frame["block"]["multiStage"]["stages"]
        assert stage["name"] == "STAGE_NAME_THINKING"
        statuses.append(stage["status"])
    assert statuses == ["STAGE_STATUS_START", "STAGE_STATUS_END"]
    start, end = (i for i, m in enumerate(masks) if m == "block.multiStage")
    thinks = [i for i, m in enumerate(masks) if m and m.startswith("block.think")]
    assert start < min(thinks) and max(thinks) < end < masks.index("block.text")
    assert emu.text_of(frames, "think") == "Thinking about: ponder"
    assert emu.text_of(frames) == "You said: ponder"
    _, _, frames = emu.chat_connect(emu.token(), "ponder")
    assert "block.multiStage" not in {f.get("mask") for f in _data(frames)}


def test_longer_answers_carry_one_notification(emu):
    token = emu.token()
    prompt = "a prompt long enough for several deltas"
    runs = []
    for _ in range(2):
        _, _, frames = emu.chat_connect(token, prompt)
        data = _data(frames)
        masks = [f.get("mask") for f in data]
        assert masks.count("notification") == 1
        notice = data[masks.index("notification")]
        assert notice["op"] == "set" and isinstance(notice["notification"], dict)
        appends = [i for i, m in enumerate(masks) if m == "block.text.content"]
        assert appends[2] < masks.index("notification") < appends[3]
        assert emu.text_of(frames) == "You said: " + prompt
        runs.append(masks)
    assert runs[0] == runs[1]  # deterministic
    # short answers (three deltas or fewer) have none
    _, _, frames = emu.chat_connect(token, "short")
    assert "notification" not in {f.get("mask") for f in _data(frames)}
