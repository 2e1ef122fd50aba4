"""``rest`` uploads: pre-sign, PUT, status polls, parse_process, and file faults."""

from __future__ import annotations

import hashlib
import os


def _upload_ready(
    emu, token, name="notes.txt", data=b"hello file", mime="text/plain", action="file"
):
    signed, put = emu.upload_rest(token, name, data, mime, action)
    assert put.status_code == 200
    for _ in range(2):
        obj = emu.file_object(token, signed, name, action).json
    assert obj["status"] == "initialized"
    response, events = emu.parse_process(token, obj["id"])
    assert events == [
        {"event": "resp", "file_info": {"id": obj["id"], "name": name, "status": "parsed"}}
    ]
    return obj


def test_pre_sign_url_points_back_at_the_emulator(emu):
    token = emu.token()
    response = emu.client.post(
        "/api/pre-sign-url", json={"action": "file", "name": "a.pdf"}, headers=emu.auth(token)
    )
    body = response.json
    assert set(body) == {"url", "object_name", "file_id"}
    assert body["url"] == f"http://localhost/_emulator/oss/{body['object_name']}"


def test_upload_status_progresses_and_file_is_recorded(emu):
    token = emu.token()
    data = os.urandom(3 * 1024 * 1024 + 7)
    signed, put = emu.upload_rest(token, "big.bin", data, "application/x-custom")
    assert put.status_code == 200
    first = emu.file_object(token, signed, "big.bin").json
    assert first["status"] == "initializing"
    second = emu.file_object(token, signed, "big.bin").json
    assert second["status"] == "initialized"
    assert {"id", "name", "size", "status"} <= set(second)
    assert second["size"] == len(data) and second["name"] == "big.bin"
    _, events = emu.parse_process(token, second["id"])
    assert events[0]["file_info"]["status"] == "parsed"
    assert emu.file_object(token, signed, "big.bin").json["status"] == "parsed"
    files = emu.client.get("/_emulator/files").json["files"]
    assert files == [
        {
            "id": second["id"],
            "account": files[0]["account"],
            "protocol": "rest",
            "kind": "file",
            "name": "big.bin",
            "mime": "application/x-custom",
            "size": len(data),
            "sha256": hashlib.sha256(data).hexdigest(),
            "status": "parsed",
        }
    ]


def test_completion_reply_names_referenced_files(emu):
    token = emu.token()
    chat_id = emu.create_chat(token)
    doc = _upload_ready(emu, token, "notes.txt", b"hello file", "text/plain")
    image = _upload_ready(emu, token, "cat.png", b"\x89PNG fake", "image/png", action="image")
    refs_file = [
        {
            "id": doc["id"],
            "name": doc["name"],
            "size": doc["size"],
            "file_info": {},
            "detail": {},
            "done": True,
            "file": {},
            "parse_status": "success",
            "upload_progress": 100,
            "upload_status": "success",
        }
    ]
    response, chunks = emu.complete(
        token, chat_id, "summarise", refs=[doc["id"], image["id"]], refs_file=refs_file
    )
    assert response.status_code == 200
    text = emu.cmpl_text(emu.sse_events(chunks))
    doc_sha = hashlib.sha256(b"hello file").hexdigest()[:16]
    img_sha = hashlib.sha256(b"\x89PNG fake").hexdigest()[:16]
    assert text == (
        f"File notes.txt (text/plain, 10 bytes, sha256 {doc_sha})\n"
        f"File cat.png (image/png, 9 bytes, sha256 {img_sha})\n"
        "You said: summarise"
    )
    turn = next(c for c in emu.chats() if c["id"] == chat_id)["turns"][0]
    assert turn["files"] == [doc["id"], image["id"]]


def test_file_object_before_put_is_not_found(emu):
    token = emu.token()
    signed = emu.client.post(
        "/api/pre-sign-url", json={"action": "file", "name": "a.txt"}, headers=emu.auth(token)
    ).json
    response = emu.file_object(token, signed, "a.txt")
    assert response.status_code == 404
    assert response.json["error_type"] == "file.not_found"


def test_upload_fail(emu):
    token = emu.token()
    emu.fault("upload_fail")
    signed, put = emu.upload_rest(token, "a.txt", b"abc", "text/plain")
    assert put.status_code == 500
    assert emu.file_object(token, signed, "a.txt").status_code == 404
    # the fault was used up
    _, put = emu.upload_rest(token, "a.txt", b"abc", "text/plain")
    assert put.status_code == 200


def test_parse_fail(emu):
    token = emu.token()
    chat_id = emu.create_chat(token)
    emu.fault("parse_fail")
    signed, _ = emu.upload_rest(token, "a.txt", b"abc", "text/plain")
    emu.file_object(token, signed, "a.txt")
    obj = emu.file_object(token, signed, "a.txt").json
    _, events = emu.parse_process(token, obj["id"])
    assert events[0]["file_info"]["status"] == "failed"
    response, _ = emu.complete(token, chat_id, "hi", refs=[obj["id"]])
    assert response.status_code == 400


def test_parse_hang_via_file_name_marker(emu):
    token = emu.token()
    name = "slow [[fault:parse_hang]].txt"
    signed, _ = emu.upload_rest(token, name, b"abc", "text/plain")
    for _ in range(5):
        obj = emu.file_object(token, signed, name).json
        assert obj["status"] == "initializing"
    _, events = emu.parse_process(token, obj["id"])
    assert events[0]["file_info"]["status"] != "parsed"
    assert emu.file_object(token, signed, name).json["status"] == "initializing"
