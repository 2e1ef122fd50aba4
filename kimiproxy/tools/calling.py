"""Reading tool calls out of Kimi's answers: an answer that starts with a
``<tool_calls>[…]</tool_calls>`` block becomes OpenAI ``tool_calls`` with ``finish_reason``
``tool_calls``."""

from __future__ import annotations

import re

from kimiproxy.tools.notation import OPEN
from kimiproxy.tools.parser import read_tool_calls
from kimiproxy.tools.request_fields import tools_active as active

__all__ = ["ToolCallSniffer", "active", "parse_tool_calls"]

_FENCE = re.compile(r"```[a-zA-Z]*")
MAX_FENCE = 24  # a code fence opening longer than this is not one around a tool call


def parse_tool_calls(text: str, tools: list[dict]) -> list[dict] | None:
    """OpenAI ``tool_calls`` from an answer that is one tool-call block, else ``None``."""
    return read_tool_calls(text, tools) or None


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
