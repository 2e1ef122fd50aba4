"""The one tool-call detector, for streamed and whole answers alike.

A stream is fed piece by piece: the start of the answer is held back while it may still turn out
to be a tool call and released the moment it cannot. A whole answer is fed in one piece and goes
through the same code, so both reach the same outcome for the same text.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from kimiproxy.tools.opening import BLOCK, TEXT, BlockOpening
from kimiproxy.tools.parser import read_tool_calls
from kimiproxy.tools.request_fields import tools_active

if TYPE_CHECKING:
    from kimiproxy.chat.request import ChatRequest


@dataclass(frozen=True)
class DetectedAnswer:
    """What remained of an answer once it ended: ``text`` not yet passed on (``""`` when the
    answer was a call) and the OpenAI ``tool_calls`` it made (``[]`` when none)."""

    text: str
    tool_calls: list[dict] = field(default_factory=list)


class ToolCallDetector:
    """Detects a tool call in one answer. ``feed`` each piece of text and pass on what it returns;
    ``finish`` once at the end. With no tools offered, every piece is passed straight through."""

    def __init__(self, tools: list[dict]):
        self._tools = tools
        self._opening = BlockOpening()
        self._held: list[str] = []
        self._passing = not tools

    @classmethod
    def for_request(cls, request: ChatRequest) -> ToolCallDetector:
        """A detector for the tools a request offers, passing everything through when it offers
        none or ``tool_choice`` is ``none``."""
        return cls(request.tools if tools_active(request) else [])

    def feed(self, text: str) -> str:
        """The text that can go to the client now (``""`` while the answer is held back)."""
        if self._passing:
            return text
        self._held.append(text)
        if self._opening.feed(text) != TEXT:
            return ""
        self._passing = True
        released, self._held = "".join(self._held), []
        return released

    def finish(self) -> DetectedAnswer:
        """The held text that is not a call, and the calls the answer made."""
        held, self._held = "".join(self._held), []
        self._passing = True
        if self._opening.verdict == BLOCK:
            calls = read_tool_calls(held, self._tools)
            if calls:
                return DetectedAnswer("", calls)
        return DetectedAnswer(held)


def detect_whole_answer(text: str, tools: list[dict]) -> DetectedAnswer:
    """A whole answer, detected as a one-piece stream: ``text`` is all of it unless it is a call."""
    detector = ToolCallDetector(tools)
    released = detector.feed(text)
    answer = detector.finish()
    return DetectedAnswer(released + answer.text, answer.tool_calls)
