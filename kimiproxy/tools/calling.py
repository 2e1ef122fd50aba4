"""The chat core's former names for tool-call detection, kept as thin wrappers over
:class:`~kimiproxy.tools.detector.ToolCallDetector` until the core calls the detector itself."""

from __future__ import annotations

from kimiproxy.tools.detector import ToolCallDetector, detect_whole_answer
from kimiproxy.tools.request_fields import tools_active as active

__all__ = ["ToolCallSniffer", "active", "parse_tool_calls"]


def parse_tool_calls(text: str, tools: list[dict]) -> list[dict] | None:
    """OpenAI ``tool_calls`` from an answer that is one tool-call block, else ``None``."""
    return detect_whole_answer(text, tools).tool_calls or None


class ToolCallSniffer:
    """A :class:`ToolCallDetector` whose ``finish`` returns ``(held text, calls or None)``."""

    def __init__(self, tools: list[dict]):
        self._detector = ToolCallDetector(tools)

    def feed(self, text: str) -> str:
        return self._detector.feed(text)

    def finish(self) -> tuple[str, list[dict] | None]:
        answer = self._detector.finish()
        return answer.text, answer.tool_calls or None
