"""The tool-calling text Kimi reads: the offer of the tools with how to call them, and earlier
calls and their results written back in the same notation, so Kimi sees the whole exchange."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from kimiproxy.tools.notation import CLOSE, OPEN, write_block

if TYPE_CHECKING:
    from kimiproxy.chat.request import Message


def history_text(message: Message) -> str:
    """A message's text as Kimi sees it in a flattened history, tool calls and results included."""
    if message.role == "tool":
        return f"[result of tool call {message.tool_call_id or ''}] {message.text}".strip()
    if not message.tool_calls:
        return message.text
    calls = []
    for call in message.tool_calls:
        arguments = call["function"].get("arguments") or "{}"
        try:
            arguments = json.loads(arguments)
        except (ValueError, RecursionError):
            pass  # sent as the client gave it
        calls.append({"name": call["function"]["name"], "arguments": arguments})
    block = write_block(calls)
    return f"{message.text}\n{block}" if message.text else block


def tool_instructions(tools: list[dict], choice: str | dict) -> str:
    """The part of the prompt that offers the tools and says whether one must be called."""
    lines = [
        "You can call these tools (parameters are JSON Schema):",
        json.dumps(tools, ensure_ascii=False),
        f'To call tools, answer with nothing but {OPEN}[{{"name": "<tool name>", '
        f'"arguments": {{...}}}}]{CLOSE}, one entry per call, and wait for the results.',
    ]
    if choice == "required":
        lines.append("You must call at least one tool now.")
    elif isinstance(choice, dict):
        lines.append(f'You must call the tool "{choice["name"]}" now.')
    else:
        lines.append("If no tool is needed, answer normally.")
    return "\n".join(lines)
