"""Tool (function) calling on top of a chat that has none.

The Kimi web chat cannot return structured tool calls, so the proxy describes the offered tools
in the prompt and asks Kimi to answer a call as one ``<tool_calls>[…]</tool_calls>`` block; an
answer that starts with such a block becomes OpenAI ``tool_calls`` with ``finish_reason``
``tool_calls``. Earlier calls and their results in the history are written back in the same
notation, so Kimi sees the whole exchange.
"""

from __future__ import annotations

import json
import re
import uuid

OPEN, CLOSE = "<tool_calls>", "</tool_calls>"
_FENCE = re.compile(r"```[a-zA-Z]*")
MAX_FENCE = 24  # a code fence opening longer than this is not one around a tool call
_BLOCK = re.compile(r"^\s*(?:```[a-zA-Z]*\s*)?<tool_calls>(.*?)</tool_calls>\s*(?:```)?\s*$", re.S)


def active(request) -> bool:
    return bool(request.tools) and request.tool_choice != "none"


def history_text(message) -> str:
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
    block = OPEN + json.dumps(calls, ensure_ascii=False) + CLOSE
    return f"{message.text}\n{block}" if message.text else block


def instructions(tools: list[dict], choice: str | dict) -> str:
    """The part of the prompt that offers the tools."""
    listed = json.dumps(tools, ensure_ascii=False)
    lines = [
        "You can call these tools (parameters are JSON Schema):",
        listed,
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


def parse_tool_calls(text: str, tools: list[dict]) -> list[dict] | None:
    """OpenAI ``tool_calls`` from an answer that is one tool-call block, else ``None``."""
    match = _BLOCK.match(text)
    if not match:
        return None
    try:
        entries = json.loads(match.group(1))
    except (ValueError, RecursionError):
        return None
    entries = entries if isinstance(entries, list) else [entries]
    names = {t["name"] for t in tools}
    calls = []
    for entry in entries:
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            return None
        if entry["name"] not in names:
            return None
        arguments = entry.get("arguments", {})
        if not isinstance(arguments, str):
            arguments = json.dumps(arguments, ensure_ascii=False)
        calls.append(
            {
                "id": f"call_{uuid.uuid4().hex[:24]}",
                "type": "function",
                "function": {"name": entry["name"], "arguments": arguments},
            }
        )
    return calls or None


class ToolCallSniffer:
    """Holds back the start of a streamed answer until it is clear whether it is a tool call.

    ``feed`` returns the text that can go to the client now; ``finish`` returns what is still held
    and the parsed calls (``None`` when the held text turned out to be an ordinary answer).
    """

    def __init__(self, tools: list[dict]):
        self.tools = tools
        self.held = ""
        self.state = "undecided"  # then "text" or "tool"

    def _classify(self) -> str:
        text = self.held.lstrip()
        if "```".startswith(text):
            return "undecided"
        fence = _FENCE.match(text)
        if fence:
            if fence.end() == len(text) or not text[fence.end() :].strip():
                return "undecided" if len(text) < MAX_FENCE else "text"
            text = text[fence.end() :].lstrip()
        if text.startswith(OPEN):
            return "tool"
        return "undecided" if OPEN.startswith(text) else "text"

    def feed(self, text: str) -> str:
        if self.state == "text":
            return text
        self.held += text
        if self.state == "undecided":
            self.state = self._classify()
            if self.state == "text":
                released, self.held = self.held, ""
                return released
        return ""

    def finish(self) -> tuple[str, list[dict] | None]:
        held, self.held = self.held, ""
        if self.state == "tool":
            calls = parse_tool_calls(held, self.tools)
            if calls:
                return "", calls
        return held, None
