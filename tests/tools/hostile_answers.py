"""Pathological answers of about a million characters, and a timer that runs one through the tool
call detector, whole or in small pieces as a stream, in a child process.

Run as ``python -m tests.tools.hostile_answers NAME whole|stream``: prints the seconds it took.
"""

from __future__ import annotations

import random
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


def run(name: str, mode: str) -> float:
    """Seconds the detector takes over one hostile answer, fed whole or in pieces of 1-32."""
    from kimiproxy.tools.detector import ToolCallDetector, detect_whole_answer

    text = HOSTILE[name]()
    sizes = random.Random(name).choices(range(1, 33), k=len(text) // 8 + 1)
    started = time.perf_counter()
    if mode == "whole":
        detect_whole_answer(text, TOOLS)
    else:
        detector, at = ToolCallDetector(TOOLS), 0
        for size in sizes:
            if at >= len(text):
                break
            detector.feed(text[at : at + size])
            at += size
        assert at >= len(text), "not enough pieces"
        detector.finish()
    return time.perf_counter() - started


if __name__ == "__main__":
    print(run(sys.argv[1], sys.argv[2]))
