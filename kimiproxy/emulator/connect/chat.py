"""``connect`` streaming chat: ``POST /apiv2/kimi.gateway.chat.v1.ChatService/Chat``."""

from __future__ import annotations

from dataclasses import dataclass, field

from flask import Blueprint, Response, request

from kimiproxy.emulator.auth import connect_account
from kimiproxy.emulator.connect.framing import FramingError, decode_request
from kimiproxy.emulator.connect.stream import chat_chunks
from kimiproxy.emulator.errors import connect_error, connect_unauthenticated, end_stream_error
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
from kimiproxy.emulator.replies import build_reply, file_line
from kimiproxy.emulator.state import get_state
from kimiproxy.emulator.streaming import stream_response

bp = Blueprint("kimi_connect", __name__)
CONNECT_MIMETYPE = "application/connect+json"
CHAT_PATH = "/apiv2/kimi.gateway.chat.v1.ChatService/Chat"
NEW_CHAT_NAME = "Untitled Chat"


class Refused(Exception):
    """A request the stream answers with an end-of-stream error before any output."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class ChatRequest:
    prompt: str
    scenario: str
    search: bool
    thinking: bool
    kimiplus_id: str
    chat: Chat | None = None
    parent_id: str | None = None
    files: list[StoredFile] = field(default_factory=list)


def _get(mapping: dict, *names: str):
    """The first present of several spellings (snake_case and camelCase both occur)."""
    for name in names:
        if mapping.get(name) not in (None, ""):
            return mapping[name]
    return None


def _blocks(message: dict) -> tuple[list[str], list[str]]:
    blocks = message.get("blocks")
    if not isinstance(blocks, list) or not blocks:
        raise Refused("invalid_argument", "message.blocks must be a non-empty list")
    texts, file_ids = [], []
    for block in blocks:
        if not isinstance(block, dict):
            raise Refused("invalid_argument", "each block must be an object")
        if isinstance(block.get("text"), dict):
            content = block["text"].get("content", "")
            if not isinstance(content, str):
                raise Refused("invalid_argument", "text.content must be a string")
            texts.append(content)
        elif isinstance(block.get("file"), dict):
            file_id = block["file"].get("id")
            if not isinstance(file_id, str) or not file_id:
                raise Refused("invalid_argument", "file blocks need file.id")
            file_ids.append(file_id)
        else:
            raise Refused("invalid_argument", "a block needs text or file")
    return texts, file_ids


def parse_chat_request(body: dict, account: str) -> ChatRequest:
    """Validate a ``Chat`` request against the account's chats and files."""
    state = get_state()
    message = body.get("message")
    if not isinstance(message, dict):
        raise Refused("invalid_argument", "message is required")
    texts, file_ids = _blocks(message)
    prompt = "\n".join(texts)
    if not prompt and not file_ids:
        raise Refused("invalid_argument", "message has no content")
    tools = body.get("tools") or []
    options = body.get("options") if isinstance(body.get("options"), dict) else {}
    request_ = ChatRequest(
        prompt=prompt,
        scenario=_get(body, "scenario") or _get(message, "scenario") or "SCENARIO_K2D5",
        search=isinstance(tools, list)
        and any(isinstance(t, dict) and t.get("type") == "TOOL_TYPE_SEARCH" for t in tools),
        thinking=bool(options.get("thinking")),
        kimiplus_id=_get(body, "kimiplus_id", "kimiplusId", "kimi_plus_id") or "",
    )
    chat_id = _get(body, "chat_id", "chatId")
    if chat_id is not None:
        chat = state.find_chat(str(chat_id))
        if chat is None or chat.deleted:
            raise Refused("not_found", f"chat {chat_id} not found")
        if chat.account != account:
            raise Refused("permission_denied", f"chat {chat_id} belongs to another account")
        parent_id = _get(message, "parent_id", "parentId")
        if parent_id is not None and parent_id not in state.message_ids(chat.id):
            raise Refused("invalid_argument", f"parent message {parent_id} not found")
        request_.chat, request_.parent_id = chat, parent_id
    for file_id in dict.fromkeys(file_ids):
        stored = state.usable_file(account, file_id)
        if stored is None:
            raise Refused("not_found", f"file {file_id} not found")
        request_.files.append(stored)
    return request_


def _refusal(fault: str | None) -> Response | None:
    if fault == "expired_token":
        return connect_unauthenticated(expired=True)
    if fault == "server_error":
        return connect_error("internal", INTERNAL_MESSAGE, 500)
    if fault == "stream_pushing":
        return end_stream_error("resource_exhausted", STREAM_PUSHING)
    if fault == "throttle":
        # A throttled free account: the whole call is refused with HTTP 429.
        headers = {"Retry-After": RETRY_AFTER_SECONDS}
        return connect_error("resource_exhausted", THROTTLE_MESSAGE, 429, headers)
    if fault == "throttle_stream":
        return end_stream_error("resource_exhausted", THROTTLE_MESSAGE)
    return None


@bp.post(CHAT_PATH)
def chat():
    if request.mimetype != CONNECT_MIMETYPE:
        return Response(
            f"unsupported content type; use {CONNECT_MIMETYPE}",
            status=415,
            headers={"Accept-Post": CONNECT_MIMETYPE},
            mimetype="text/plain",
        )
    account = connect_account()
    state = get_state()
    try:
        parsed = parse_chat_request(decode_request(request.get_data()), account)
    except FramingError as exc:
        return end_stream_error("invalid_argument", str(exc))
    except Refused as exc:
        return end_stream_error(exc.code, exc.message)
    fault = marker_fault(parsed.prompt, "chat") or state.take_fault("chat")
    refused = _refusal(fault)
    if refused is not None:
        return refused
    chat_id = parsed.chat.id if parsed.chat is not None else new_id("d3")
    stream_id = state.begin_stream(account, chat_id)
    if stream_id is None:
        return _refusal("stream_pushing")
    try:
        return _answer(parsed, account, chat_id, fault, stream_id)
    except BaseException:
        state.end_stream(stream_id)
        raise


def _frame_message(message: dict) -> dict:
    """A stored message as a stream frame shows it (no timestamps, no empty parent)."""
    return {k: v for k, v in message.items() if k != "createTime" and (k != "parentId" or v)}


def _answer(
    parsed: ChatRequest, account: str, chat_id: str, fault: str | None, stream_id: str
) -> Response:
    state = get_state()
    chat = parsed.chat or state.create_chat(chat_id, "connect", account, NEW_CHAT_NAME)
    chat_frame = chat.summary()
    lines = [file_line(f.name, f.mime, f.size, f.sha256) for f in parsed.files]
    reply = build_reply(
        parsed.prompt,
        search=parsed.search,
        thinking=parsed.thinking,
        file_lines=lines,
        chunk_size=state.options["chunk_size"],
    )
    title = reply.title if not chat.turns else None
    user_id, assistant_id = new_id("d3"), new_id("d3")
    parent = parsed.parent_id or state.last_message_id(chat.id)
    user_msg = user_message(
        user_id, parent, parsed.prompt, [f.public() for f in parsed.files], parsed.scenario
    )
    options = {
        "search": parsed.search,
        "thinking": parsed.thinking,
        "scenario": parsed.scenario,
        "kimiplus_id": parsed.kimiplus_id,
    }
    turn = Turn(
        protocol="connect",
        prompt=parsed.prompt,
        reply=reply.text,
        options=options,
        files=[f.id for f in parsed.files],
        fault=fault,
        user_message_id=user_id,
        assistant_message_id=assistant_id,
    )
    assistant = assistant_message(
        assistant_id, user_id, reply, reply.text, parsed.scenario, COMPLETED
    )
    state.add_turn(chat.id, turn, [user_msg, assistant])
    if title is not None:
        state.rename_chat(chat.id, title)
    chunks = chat_chunks(
        chat=chat_frame,
        user_message=_frame_message(user_msg),
        assistant_id=assistant_id,
        scenario=parsed.scenario,
        reply=reply,
        title=title,
        fault=fault,
        split_size=state.options["split_bytes"] if reply.split_utf8 else None,
    )
    delay = state.options["slow_chunk_delay"] if fault == "slow_chunks" else 0.0
    return stream_response(
        chunks, CONNECT_MIMETYPE, delay=delay, release=lambda: state.end_stream(stream_id)
    )
