"""``rest`` completion: ``POST /api/chat/<id>/completion/stream`` and its continuation."""

from __future__ import annotations

from flask import Blueprint, Response, abort

from kimiproxy.emulator.auth import rest_account
from kimiproxy.emulator.errors import invalid_token, rest_error
from kimiproxy.emulator.faults import (
    INTERNAL_MESSAGE,
    RETRY_AFTER_SECONDS,
    STREAM_PUSHING,
    THROTTLE_MESSAGE,
    marker_fault,
)
from kimiproxy.emulator.history import COMPLETED, assistant_message, user_message
from kimiproxy.emulator.ids import new_id
from kimiproxy.emulator.records import Chat, StoredFile, Turn
from kimiproxy.emulator.replies import answer_text, build_reply, file_line
from kimiproxy.emulator.rest.common import json_body, owned_chat
from kimiproxy.emulator.rest.stream import answer_chunks
from kimiproxy.emulator.state import get_state
from kimiproxy.emulator.streaming import stream_response

bp = Blueprint("kimi_rest_completion", __name__)
K1_AGENT_ID = "crm40ee9e5jvhsn7ptcg"
SSE_MIMETYPE = "text/event-stream"


def _bad_request(message: str) -> None:
    abort(rest_error(400, "request.invalid", "请求参数错误", message))


def _prompt(body: dict) -> str:
    """The text Kimi received: the messages' contents (clients send one merged message)."""
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        _bad_request("messages must be a non-empty list")
    parts = []
    for message in messages:
        if not isinstance(message, dict) or not isinstance(message.get("content"), str):
            _bad_request("each message needs a string content")
        parts.append(message["content"])
    return "\n".join(parts)


def _referenced_files(body: dict, account: str) -> list[StoredFile]:
    """The files named by ``refs`` and ``refs_file``; each must be an upload ready for use."""
    refs, refs_file = body.get("refs") or [], body.get("refs_file") or []
    if not isinstance(refs, list) or not isinstance(refs_file, list):
        _bad_request("refs and refs_file must be lists")
    ids = list(refs) + [item.get("id") if isinstance(item, dict) else None for item in refs_file]
    files: list[StoredFile] = []
    for file_id in dict.fromkeys(ids):
        stored = get_state().usable_file(account, file_id) if isinstance(file_id, str) else None
        if stored is None:
            abort(
                rest_error(400, "file.not_found", "文件不存在或尚未处理完成", {"file_id": file_id})
            )
        files.append(stored)
    return files


def _refusal(fault: str | None) -> Response | None:
    """The error a before-stream fault answers with."""
    if fault == "expired_token":
        return invalid_token()
    if fault == "stream_pushing":
        return rest_error(400, STREAM_PUSHING, "当前有回复正在生成，请稍后再试")
    if fault in ("throttle", "throttle_stream"):
        # rest has no end-of-stream trailer: both throttle faults are an HTTP 429.
        headers = {"Retry-After": RETRY_AFTER_SECONDS}
        return rest_error(429, "chat.rate_limit", THROTTLE_MESSAGE, headers=headers)
    if fault == "server_error":
        return rest_error(500, "server.internal_error", INTERNAL_MESSAGE)
    return None


def _refusal_or_claim(fault: str | None, account: str, chat_id: str) -> Response | str:
    """A before-stream fault's error, or Kimi's one-stream-per-account refusal; otherwise the id
    of the stream slot claimed for the account until the stream ends."""
    refused = _refusal(fault)
    if refused is not None:
        return refused
    stream_id = get_state().begin_stream(account, chat_id)
    return _refusal("stream_pushing") if stream_id is None else stream_id


def _stream(chunks: list[bytes], fault: str | None, stream_id: str) -> Response:
    state = get_state()
    delay = state.options["slow_chunk_delay"] if fault == "slow_chunks" else 0.0
    return stream_response(
        chunks, SSE_MIMETYPE, delay=delay, release=lambda: state.end_stream(stream_id)
    )


@bp.post("/api/chat/<chat_id>/completion/stream")
def completion(chat_id: str):
    state = get_state()
    account = rest_account()
    body = json_body()
    chat = owned_chat(chat_id, account)
    if body.get("action") == "continue":
        return _continuation(chat, account, body)
    prompt = _prompt(body)
    files = _referenced_files(body, account)
    research = bool(body.get("use_research"))
    if research and state.research_usage(account)["remain"] <= 0:
        usage = state.research_usage(account)
        return rest_error(429, "chat.research.quota_exceeded", "研究次数已用完", usage)
    fault = marker_fault(prompt, "chat") or state.take_fault("chat")
    claim = _refusal_or_claim(fault, account, chat.id)
    if isinstance(claim, Response):
        return claim
    try:
        if research:
            state.use_research(account)
        return _answer(chat, body, prompt, files, research, fault, claim)
    except BaseException:
        state.end_stream(claim)
        raise


def _answer(
    chat: Chat,
    body: dict,
    prompt: str,
    files: list[StoredFile],
    research: bool,
    fault: str | None,
    stream_id: str,
) -> Response:
    state = get_state()
    search = bool(body.get("use_search"))
    thinking = body.get("kimiplus_id") == K1_AGENT_ID or body.get("model") == "k1"
    lines = [file_line(f.name, f.mime, f.size, f.sha256) for f in files]
    reply = build_reply(
        prompt,
        search=search,
        thinking=thinking,
        file_lines=lines,
        chunk_size=state.options["chunk_size"],
    )
    first, *rest = reply.segments()
    pending = tuple(step for segment in rest for step in segment) if rest else None
    req_id, resp_id, group_id = new_id("cl"), new_id("cl"), new_id("cl")
    title = reply.title if not chat.turns else None
    scenario = "SCENARIO_K1" if thinking else "SCENARIO_CHAT"
    sent = answer_text(first)
    options = {
        "search": search,
        "thinking": thinking,
        "research": research,
        "kimiplus_id": body.get("kimiplus_id"),
        "model": body.get("model"),
    }
    turn = Turn(
        protocol="rest",
        prompt=prompt,
        reply=sent,
        options=options,
        files=[f.id for f in files],
        fault=fault,
        user_message_id=req_id,
        assistant_message_id=resp_id,
        pending=pending,
    )
    parent = state.last_message_id(chat.id)
    messages = [
        user_message(req_id, parent, prompt, [f.public() for f in files], scenario),
        assistant_message(resp_id, req_id, reply, sent, scenario, COMPLETED),
    ]
    state.add_turn(chat.id, turn, messages)
    if title is not None:
        state.rename_chat(chat.id, title)
    req = {
        "event": "req",
        "id": req_id,
        "group_id": group_id,
        "content": prompt,
        "refs": [f.id for f in files],
    }
    chunks = answer_chunks(
        req=req,
        resp={"event": "resp", "id": resp_id, "group_id": group_id},
        steps=first,
        search=search,
        hit_length=pending is not None,
        title=title,
        fault=fault,
        split_size=state.options["split_bytes"] if reply.split_utf8 else None,
    )
    return _stream(chunks, fault, stream_id)


def _continuation(chat: Chat, account: str, body: dict) -> Response:
    """``action: continue`` with the ``segment_id`` of a ``req`` event: the rest of a reply that
    stopped at ``length`` (nothing more if it did not)."""
    state = get_state()
    segment_id = body.get("segment_id")
    if not isinstance(segment_id, str) or not state.has_segment(chat.id, segment_id):
        return rest_error(400, "chat.segment.not_found", "消息不存在", {"segment_id": segment_id})
    fault = state.take_fault("chat")
    claim = _refusal_or_claim(fault, account, chat.id)
    if isinstance(claim, Response):
        return claim
    try:
        return _continued(chat, segment_id, fault, claim)
    except BaseException:
        state.end_stream(claim)
        raise


def _continued(chat: Chat, segment_id: str, fault: str | None, stream_id: str) -> Response:
    steps, assistant_id = get_state().continue_turn(chat.id, segment_id)
    chunks = answer_chunks(
        req=None,
        resp={"event": "resp", "id": assistant_id, "group_id": new_id("cl")},
        steps=steps,
        search=False,
        hit_length=False,
        title=None,
        fault=fault,
        split_size=None,
    )
    return _stream(chunks, fault, stream_id)
