"""Pathological answers of about a million characters, and a timer that runs one through the tool
parser in a child process.

Run as ``python -m tests.tools.hostile_answers NAME``: prints the seconds it took.
"""

from __future__ import annotations

import sys
import time

N = 1_000_000
TOOLS = [{"name": "get_weather"}]
CALL = '[{"name": "get_weather", "arguments": {}}]'

HOSTILE = {
    "spaces": lambda: " " * N,
    "spaces after a block": lambda: "<tool_calls>[]</tool_calls>" + " " * N + "x",
    "spaces after a call": lambda: f"<tool_calls>{CALL}</tool_calls>" + " \n" * (N // 2) + "```x",
    "many openings": lambda: "<tool_calls>" * (N // 12),
    "many openings, one close": lambda: "<tool_calls>" * (N // 12) + "</tool_calls>",
    "many blocks": lambda: "<tool_calls></tool_calls> " * (N // 26) + "x",
    "backticks": lambda: "`" * N,
    "a long fence language": lambda: "```" + "a" * N,
    "a fence and newlines": lambda: "```json" + "\n" * N + f"<tool_calls>{CALL}</tool_calls>",
    "deeply nested brackets": lambda: "<tool_calls>" + "[" * N + "]" * N + "</tool_calls>",
    "an unterminated string": lambda: '<tool_calls>[{"name": "' + "a" * N + "</tool_calls>",
    "an unterminated block": lambda: '<tool_calls>[{"name": "get_weather"' + ", 1" * N,
}


def run(name: str) -> float:
    """Seconds the tool-call code takes over one hostile answer."""
    from kimiproxy.tools.parser import read_tool_calls

    text = HOSTILE[name]()
    started = time.perf_counter()
    read_tool_calls(text, TOOLS)
    return time.perf_counter() - started


if __name__ == "__main__":
    print(run(sys.argv[1]))
