"""``rest`` uploads: pre-signed URL, the object-storage PUT (served by the emulator itself),
file status polls and ``parse_process``."""

from __future__ import annotations

import time

from flask import Blueprint, Response, abort, jsonify, request

from kimiproxy.emulator.auth import rest_account
from kimiproxy.emulator.errors import rest_error
from kimiproxy.emulator.faults import marker_fault
from kimiproxy.emulator.ids import new_id, today
from kimiproxy.emulator.records import StoredFile
from kimiproxy.emulator.rest.common import json_body, owned_chat
from kimiproxy.emulator.rest.stream import sse
from kimiproxy.emulator.state import get_state
from kimiproxy.emulator.streaming import stream_response
from kimiproxy.emulator.uploads import drain, hash_stream, mime_for

bp = Blueprint("kimi_rest_files", __name__)
OSS_PREFIX = "/_emulator/oss/"
_OSS_ERROR = '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{}</Code></Error>\n'


def _not_found(file_id: object) -> None:
    abort(rest_error(404, "file.not_found", "文件不存在", {"file_id": file_id}))


def _file_object(stored: StoredFile, chat_id: str = "") -> dict:
    return {
        "id": stored.id,
        "name": stored.name,
        "size": stored.size,
        "status": stored.status,
        "type": stored.kind,
        "object_name": stored.object_name,
        "content_type": stored.mime,
        "chat_id": chat_id,
        "created_at": stored.created,
        "updated_at": stored.created,
    }


@bp.post("/api/pre-sign-url")
def pre_sign_url():
    account = rest_account()
    body = json_body()
    action, name = body.get("action"), body.get("name")
    if action not in ("file", "image") or not isinstance(name, str) or not name.strip():
        abort(rest_error(400, "request.invalid", "请求参数错误", "need action file|image and name"))
    state = get_state()
    fault = marker_fault(name, "file") or state.take_fault("file")
    file_id = new_id("cp")
    object_name = f"{action}/{today()}/{file_id}"
    state.add_file(
        StoredFile(
            id=file_id,
            account=account,
            protocol="rest",
            kind=action,
            name=name,
            fault=fault,
            object_name=object_name,
        )
    )
    url = request.host_url.rstrip("/") + OSS_PREFIX + object_name
    return jsonify(url=url, object_name=object_name, file_id=file_id)


@bp.put(OSS_PREFIX + "<path:object_name>")
def oss_put(object_name: str):
    state = get_state()
    stored = state.file_by_object(object_name)
    if stored is None or stored.fault == "upload_fail":
        drain(request.stream)
        code, status = ("NoSuchUpload", 404) if stored is None else ("InternalError", 500)
        return Response(_OSS_ERROR.format(code), status=status, mimetype="application/xml")
    size, digest = hash_stream(request.stream)
    state.update_file(
        stored.id,
        size=size,
        sha256=digest,
        uploaded=True,
        polls=0,
        status="initializing",
        mime=mime_for(stored.name, request.mimetype),
    )
    response = Response(status=200)
    response.headers["ETag"] = f'"{digest[:32].upper()}"'
    return response


@bp.post("/api/file")
def file_status():
    account = rest_account()
    body = json_body()
    state = get_state()
    kind = body.get("type")
    if kind == "image":
        stored = state.find_file(account, file_id=body.get("file_id") or None)
    elif kind == "file":
        stored = state.find_file(
            account,
            file_id=body.get("file_id") or None,
            object_name=body.get("object_name") or None,
        )
    else:
        abort(rest_error(400, "request.invalid", "请求参数错误", "type must be image or file"))
    if stored is None or not stored.uploaded:
        _not_found(body.get("file_id") or body.get("object_name"))
    chat_id = body.get("chat_id") if isinstance(body.get("chat_id"), str) else ""
    if chat_id:
        owned_chat(chat_id, account)
    return jsonify(_file_object(state.poll_file(stored.id), chat_id))


@bp.post("/api/file/parse_process")
def parse_process():
    account = rest_account()
    body = json_body()
    state = get_state()
    ids = body.get("ids")
    if not isinstance(ids, list) or not ids or not all(isinstance(i, str) for i in ids):
        abort(rest_error(400, "request.invalid", "请求参数错误", "ids must be a list of file ids"))
    files = []
    for file_id in ids:
        stored = state.find_file(account, file_id=file_id)
        if stored is None or not stored.uploaded:
            _not_found(file_id)
        files.append(stored)
    answers = []
    for stored in files:
        if stored.fault == "parse_fail":
            stored = state.update_file(stored.id, status="failed")
        elif stored.fault != "parse_hang":
            stored = state.update_file(stored.id, status="parsed")
        info = {"id": stored.id, "name": stored.name, "status": stored.status}
        answers.append(sse({"event": "resp", "file_info": info}))
    if not any(f.fault == "parse_hang" for f in files):
        return stream_response(answers, "text/event-stream")
    # A hung parse holds the answer (bounded by the request's own timeout) and stays unparsed.
    hang = float(state.options["parse_hang_seconds"])
    timeout = body.get("timeout")
    if isinstance(timeout, int | float) and timeout > 0:
        hang = min(hang, timeout / 1000)
    return stream_response(answers, "text/event-stream", before=lambda: time.sleep(hang))
