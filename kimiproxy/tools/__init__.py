"""Tool (function) calling on top of a chat that has none.

The Kimi web chat cannot return structured tool calls, so the proxy describes the offered tools
in the prompt (:mod:`~kimiproxy.tools.prompt`) and asks Kimi to answer a call as one
``<tool_calls>[…]</tool_calls>`` block (:mod:`~kimiproxy.tools.notation`). The
:class:`ToolCallDetector` turns an answer that is such a block into OpenAI ``tool_calls``, streamed
or whole; :mod:`~kimiproxy.tools.request_fields` checks the request's tool fields.
"""

from kimiproxy.tools.detector import DetectedAnswer, ToolCallDetector, detect_whole_answer
from kimiproxy.tools.prompt import history_text, tool_instructions
from kimiproxy.tools.request_fields import tools_active

__all__ = [
    "DetectedAnswer",
    "ToolCallDetector",
    "detect_whole_answer",
    "history_text",
    "tool_instructions",
    "tools_active",
]
