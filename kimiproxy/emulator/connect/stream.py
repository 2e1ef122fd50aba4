"""``connect`` answer streams: reply steps become Connect envelopes of ``op``/``mask`` frames."""

from __future__ import annotations

import struct

from kimiproxy.emulator.connect.framing import encode_envelope
from kimiproxy.emulator.errors import end_stream_frame
from kimiproxy.emulator.faults import (
    DELTAS_BEFORE_FAULT,
    MID_STREAM,
    OVERLOADED_MESSAGE,
    OVERLOADED_REASON,
)
from kimiproxy.emulator.history import COMPLETED, FAILED, GENERATING
from kimiproxy.emulator.replies import SEARCH, TEXT, THINK, Reply, rechunk

THINK_BLOCK, SEARCH_BLOCK, TEXT_BLOCK, STAGE_BLOCK = "0_0", "1_0", "2_0", "3_0"
THINKING_STAGE = "STAGE_NAME_THINKING"
STAGE_START, STAGE_END = "STAGE_STATUS_START", "STAGE_STATUS_END"
# A notification frame follows this answer delta when the answer has more deltas than that.
NOTIFY_AFTER_DELTA = 3
NOTIFICATION = {
    "id": "notice_0",
    "type": "NOTIFICATION_TYPE_TOAST",
    "title": "提示",
    "content": "内容由 AI 生成，请仔细甄别",
}
_LOCALIZED = {"localizedMessage": {"message": OVERLOADED_MESSAGE}}
_OVERLOADED_DETAILS = [{"debug": {"reason": OVERLOADED_REASON, **_LOCALIZED}}]


class _Frames:
    """Envelopes in order, numbering ``eventOffset`` on the frames that carry an ``op``."""

    def __init__(self) -> None:
        self.items: list[tuple[bytes, bool]] = []
        self._offset = 0

    def op(self, frame: dict, splittable: bool = False) -> None:
        self._offset += 1
        self.items.append(
            (encode_envelope({"op": "set", "eventOffset": self._offset, **frame}), splittable)
        )

    def plain(self, frame: dict) -> None:
        self.items.append((encode_envelope(frame), False))

    def raw(self, data: bytes) -> None:
        self.items.append((data, False))

    def stage(self, status: str) -> None:
        stages = [{"name": THINKING_STAGE, "status": status}]
        self.op(
            {
                "mask": "block.multiStage",
                "block": {"id": STAGE_BLOCK, "multiStage": {"stages": stages}},
            }
        )


def _fault_tail(frames: _Frames, fault: str, assistant_id: str, block_id: str) -> None:
    """What a mid-stream fault sends in place of the rest of the answer."""
    if fault == "malformed_frame":
        # The length field promises far more bytes than the body will ever carry.
        partial = b'{"op":"append","mask":"block.text.content"'
        frames.raw(struct.pack(">BI", 0, 4096) + partial)
    elif fault == "error_event":
        error = {
            "code": "unavailable",
            "message": OVERLOADED_MESSAGE,
            "details": _OVERLOADED_DETAILS,
        }
        frames.plain({"error": error})
        frames.raw(end_stream_frame("unavailable", OVERLOADED_MESSAGE, _OVERLOADED_DETAILS))
    elif fault == "block_exception":
        # The error rides on the block; the stream itself then ends normally.
        error = {"reason": OVERLOADED_REASON, **_LOCALIZED}
        frames.op(
            {"mask": "block.exception", "block": {"id": block_id, "exception": {"error": error}}}
        )
        frames.op({"mask": "message.status", "message": {"id": assistant_id, "status": FAILED}})
        frames.plain({"done": {}})
        frames.raw(end_stream_frame())
    # cut_stream: the stream just stops


def chat_chunks(
    *,
    chat: dict,
    user_message: dict,
    assistant_id: str,
    scenario: str,
    reply: Reply,
    title: str | None,
    fault: str | None,
    split_size: int | None,
) -> list[bytes]:
    """The network writes of one ``Chat`` call, ending with the end-of-stream envelope."""
    frames = _Frames()
    frames.op({"chat": chat})
    frames.op({"mask": "message", "message": user_message})
    assistant = {
        "id": assistant_id,
        "parentId": user_message["id"],
        "role": "assistant",
        "status": GENERATING,
        "scenario": scenario,
    }
    frames.op({"mask": "message", "message": assistant})
    frames.plain({"heartbeat": {}})
    text_deltas = sum(1 for step in reply.steps if step.kind == TEXT)
    opened: set[str] = set()
    thinking_stage_open = False
    deltas = answer_deltas = 0
    block_id = TEXT_BLOCK
    for step in reply.steps:
        if thinking_stage_open and step.kind != THINK:
            thinking_stage_open = False
            frames.stage(STAGE_END)
        if step.kind == SEARCH:
            pages = [r.web_page() for r in step.results]
            frames.op(
                {
                    "mask": "block.search.webPages",
                    "block": {"id": SEARCH_BLOCK, "search": {"webPages": pages}},
                }
            )
            continue
        if step.kind == THINK:
            block_id = THINK_BLOCK
            if THINK not in opened:
                opened.add(THINK)
                thinking_stage_open = True
                frames.stage(STAGE_START)
                frames.op(
                    {"mask": "block.think", "block": {"id": THINK_BLOCK, "think": {"content": ""}}}
                )
            frames.op(
                {
                    "op": "append",
                    "mask": "block.think.content",
                    "block": {"id": THINK_BLOCK, "think": {"content": step.text}},
                }
            )
        elif step.kind == TEXT:
            block_id = TEXT_BLOCK
            if TEXT not in opened:
                opened.add(TEXT)
                frames.op(
                    {
                        "mask": "block.text",
                        "block": {"id": TEXT_BLOCK, "text": {"content": "", "flags": "answer"}},
                    }
                )
            frames.op(
                {
                    "op": "append",
                    "mask": "block.text.content",
                    "block": {"id": TEXT_BLOCK, "text": {"content": step.text}},
                },
                splittable=True,
            )
            answer_deltas += 1
        else:
            continue  # the length cut (one piece here) and rest's mid-answer done
        deltas += 1
        if fault in MID_STREAM and deltas == DELTAS_BEFORE_FAULT:
            _fault_tail(frames, fault, assistant_id, block_id)
            return rechunk(frames.items, split_size)
        if answer_deltas == NOTIFY_AFTER_DELTA < text_deltas and step.kind == TEXT:
            frames.op({"mask": "notification", "notification": dict(NOTIFICATION)})
    if thinking_stage_open:
        frames.stage(STAGE_END)
    if fault in MID_STREAM:
        _fault_tail(frames, fault, assistant_id, block_id)
        return rechunk(frames.items, split_size)
    if title is not None:
        frames.op({"mask": "chat.name", "chat": {"name": title}})
    frames.op({"mask": "message.status", "message": {"id": assistant_id, "status": COMPLETED}})
    frames.plain({"done": {}})
    frames.raw(end_stream_frame())
    return rechunk(frames.items, split_size)
