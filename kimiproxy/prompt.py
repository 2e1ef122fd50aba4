"""Turning OpenAI messages into the single user text the Kimi web chat takes."""

from __future__ import annotations

from .request_model import Message

FOCUS_ON_LATEST = "关注用户最新的消息"
FOCUS_ON_LATEST_WITH_FILES = "关注用户最新发送文件和消息"


def merge_messages(messages: list[Message], *, has_files: bool = False) -> str:
    """One message is sent as its text. Several are flattened to ``role:text`` lines, with a
    system line asking Kimi to focus on the latest message inserted before the last one, which is
    how kimi-free-api users' prompts have always reached Kimi."""
    if len(messages) == 1:
        return messages[0].text
    focus = FOCUS_ON_LATEST_WITH_FILES if has_files else FOCUS_ON_LATEST
    lines = [f"{m.role}:{m.text}" for m in messages[:-1] if m.text]
    lines.append(f"system:{focus}")
    lines.append(f"{messages[-1].role}:{messages[-1].text}")
    return "\n".join(lines)


def continuation_prompt(messages: list[Message]) -> str:
    """When continuing an upstream chat, Kimi already has the history: send the last message."""
    return messages[-1].text
