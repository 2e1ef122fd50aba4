"""Turning OpenAI messages into the single user text the Kimi web chat takes."""

from __future__ import annotations

from kimiproxy.chat.request import ChatRequest, Message
from kimiproxy.tools import history_text, tool_instructions, tools_active

FOCUS_ON_LATEST = "关注用户最新的消息"
FOCUS_ON_LATEST_WITH_FILES = "关注用户最新发送文件和消息"


def merge_messages(messages: list[Message], *, has_files: bool = False) -> str:
    """One message is sent as its text. Several are flattened to ``role:text`` lines, with a
    system line asking Kimi to focus on the latest message inserted before the last one, which is
    how kimi-free-api users' prompts have always reached Kimi."""
    if len(messages) == 1:
        return history_text(messages[0])
    focus = FOCUS_ON_LATEST_WITH_FILES if has_files else FOCUS_ON_LATEST
    lines = []
    for message in messages[:-1]:
        text = history_text(message)
        if text:
            lines.append(f"{message.role}:{text}")
    lines.append(f"system:{focus}")
    lines.append(f"{messages[-1].role}:{history_text(messages[-1])}")
    return "\n".join(lines)


def build_prompt(request: ChatRequest) -> str:
    """The text for Kimi: the merged history, or only the last message when an upstream chat is
    continued (Kimi has the rest), followed by the tool instructions when tools are offered."""
    if request.conversation_id:
        prompt = history_text(request.last_message)
    else:
        prompt = merge_messages(request.messages, has_files=bool(request.last_message.parts))
    if tools_active(request):
        prompt += "\n\n" + tool_instructions(request.tools, request.tool_choice)
    return prompt
