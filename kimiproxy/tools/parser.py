"""Reading OpenAI ``tool_calls`` out of an answer that is one tool-call block.

An answer is a call when, after optional whitespace and an optional code fence, it opens with
``<tool_calls>``, its last ``</tool_calls>`` is followed by nothing but whitespace and perhaps the
closing fence, the JSON between them is a call or a list of calls, and every call names an offered
tool. Each step is a single pass over the text (``str.rfind``, ``str.strip``, the JSON decoder),
so hostile answers cost time linear in their length.
"""

from __future__ import annotations

import json
import uuid

from kimiproxy.tools.notation import CLOSE, FENCE
from kimiproxy.tools.opening import BLOCK, BlockOpening


def block_body(text: str) -> str | None:
    """The text between ``<tool_calls>`` and ``</tool_calls>`` of a whole-answer block."""
    opening = BlockOpening()
    if opening.feed(text) != BLOCK:
        return None
    close = text.rfind(CLOSE, opening.end)
    if close < 0:
        return None
    tail = text[close + len(CLOSE) :].strip()
    if tail and tail != FENCE:
        return None
    return text[opening.end : close]


def read_tool_calls(text: str, tools: list[dict]) -> list[dict]:
    """The OpenAI ``tool_calls`` an answer makes, or ``[]`` when it is not exactly a call of
    offered tools (``tools`` are ``{"name", …}`` objects)."""
    body = block_body(text)
    if body is None:
        return []
    try:
        entries = json.loads(body)
    except (ValueError, RecursionError):
        return []
    entries = entries if isinstance(entries, list) else [entries]
    names = {tool["name"] for tool in tools}
    calls = []
    for entry in entries:
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            return []
        if entry["name"] not in names:
            return []
        arguments = entry.get("arguments", {})
        if not isinstance(arguments, str):
            try:
                arguments = json.dumps(arguments, ensure_ascii=False)
            except RecursionError:  # nested just deeper than the encoder allows
                return []
        calls.append(
            {
                "id": f"call_{uuid.uuid4().hex[:24]}",
                "type": "function",
                "function": {"name": entry["name"], "arguments": arguments},
            }
        )
    return calls
