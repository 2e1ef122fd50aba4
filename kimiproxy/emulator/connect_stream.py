"""Generation B answer streams: reply steps become Connect envelopes of ``op``/``mask`` frames."""

from __future__ import annotations

import struct

from .connect_framing import encode_envelope
from .errors import end_stream_frame
from .faults import DELTAS_BEFORE_FAULT, MID_STREAM, OVERLOADED_MESSAGE
from .history import COMPLETED, GENERATING
from .replies import LENGTH, SEARCH, TEXT, THINK, Reply, rechunk

THINK_BLOCK, SEARCH_BLOCK, TEXT_BLOCK = "0_0", "1_0", "2_0"
_OVERLOADED_DETAILS = [{"debug": {"reason": "REASON_COMPLETION_OVERLOADED"}}]


def _fault_tail(fault: str) -> list[tuple[bytes, bool]]:
    if fault == "malformed_frame":
        # The length field promises far more bytes than the body will ever carry.
        partial = b'{"op":"append","mask":"block.text.content"'
        return [(struct.pack(">BI", 0, 4096) + partial, False)]
    if fault == "error_event":
        error = {
            "code": "unavailable",
            "message": OVERLOADED_MESSAGE,
            "details": _OVERLOADED_DETAILS,
        }
        return [
            (encode_envelope({"error": error}), False),
            (end_stream_frame("unavailable", OVERLOADED_MESSAGE, _OVERLOADED_DETAILS), False),
        ]
    return []  # cut_stream: the stream just stops


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
    opened: set[str] = set()
    deltas = 0
    for step in reply.steps:
        if step.kind == LENGTH:
            continue  # generation B sends a long answer in one piece
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
            if THINK not in opened:
                opened.add(THINK)
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
            if TEXT not in opened:
                opened.add(TEXT)
                frames.op(
                    {"mask": "block.text", "block": {"id": TEXT_BLOCK, "text": {"content": ""}}}
                )
            frames.op(
                {
                    "op": "append",
                    "mask": "block.text.content",
                    "block": {"id": TEXT_BLOCK, "text": {"content": step.text}},
                },
                splittable=True,
            )
        deltas += 1
        if fault in MID_STREAM and deltas == DELTAS_BEFORE_FAULT:
            return rechunk(frames.items + _fault_tail(fault), split_size)
    if fault in MID_STREAM:
        return rechunk(frames.items + _fault_tail(fault), split_size)
    if title is not None:
        frames.op({"mask": "chat.name", "chat": {"name": title}})
    frames.op({"mask": "message.status", "message": {"id": assistant_id, "status": COMPLETED}})
    frames.plain({"done": {}})
    frames.items.append((end_stream_frame(), False))
    return rechunk(frames.items, split_size)
