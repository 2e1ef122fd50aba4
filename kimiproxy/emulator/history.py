"""Stored message records (what ListMessages returns) built from a turn's prompt and reply."""

from __future__ import annotations

from kimiproxy.emulator.ids import now_iso
from kimiproxy.emulator.replies import Reply

COMPLETED = "MESSAGE_STATUS_COMPLETED"
GENERATING = "MESSAGE_STATUS_GENERATING"
FAILED = "MESSAGE_STATUS_FAILED"


def user_blocks(prompt: str, files: list[dict]) -> list[dict]:
    """The user message's blocks: one per referenced file, then the text."""
    blocks = [
        {"id": f"file_{n}_0", "file": {"id": f["id"], "name": f["name"]}}
        for n, f in enumerate(files)
    ]
    blocks.append({"id": "text_0_0", "text": {"content": prompt}})
    return blocks


def user_message(
    message_id: str, parent_id: str | None, prompt: str, files: list[dict], scenario: str
) -> dict:
    """The stored user message of a turn."""
    message = {
        "id": message_id,
        "parentId": parent_id or "",
        "role": "user",
        "status": COMPLETED,
        "blocks": user_blocks(prompt, files),
        "scenario": scenario,
        "createTime": now_iso(),
    }
    return message


def assistant_message(
    message_id: str, parent_id: str, reply: Reply, text: str, scenario: str, status: str
) -> dict:
    """The stored assistant message; ``text`` is the answer text actually sent so far."""
    blocks = []
    if reply.thinking:
        blocks.append({"id": "0_0", "think": {"content": reply.thinking}})
    if reply.results:
        blocks.append({"id": "1_0", "search": {"webPages": [r.web_page() for r in reply.results]}})
    blocks.append({"id": "2_0", "text": {"content": text}})
    return {
        "id": message_id,
        "parentId": parent_id,
        "role": "assistant",
        "status": status,
        "blocks": blocks,
        "scenario": scenario,
        "createTime": now_iso(),
    }
