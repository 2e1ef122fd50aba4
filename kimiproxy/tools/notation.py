"""The notation Kimi is asked to answer tool calls in, shared by the prompt that teaches it and the
parser that reads it back: ``<tool_calls>[{"name": …, "arguments": {…}}]</tool_calls>``, the
whole answer, possibly inside a Markdown code fence."""

from __future__ import annotations

import json

OPEN, CLOSE = "<tool_calls>", "</tool_calls>"
FENCE = "```"
# Letters of a fence's language tag (```json, ```xml). A longer run is not a fence around a call,
# which lets a stream stop holding back an answer that opens with one.
MAX_FENCE_LANGUAGE = 20


def write_block(calls: list[dict]) -> str:
    """Calls (``{"name", "arguments"}`` each) written as one block."""
    return OPEN + json.dumps(calls, ensure_ascii=False) + CLOSE
