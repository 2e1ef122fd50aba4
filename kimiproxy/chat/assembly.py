"""Turning one answer's upstream events into what a client gets: post-processed deltas for a
stream, the assembled :class:`~kimiproxy.chat.context.AnswerMessage` for both.

The same path serves streamed and whole answers. A stream runs every piece through the
``kimiproxy_process_delta`` hook as it arrives; a whole answer is assembled first and then given
to ``kimiproxy_process_message`` (which a stream also gets, after its last delta). When tools are
offered, the start of the answer is held until it is clear whether it is a tool call.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

from kimiproxy.chat.context import AnswerMessage, Delta
from kimiproxy.errors import UpstreamError
from kimiproxy.tools import ToolCallDetector
from kimiproxy.upstream.events import (
    ChatStarted,
    Event,
    Finished,
    SearchResult,
    TextDelta,
    ThinkingDelta,
    UpstreamFailed,
)

if TYPE_CHECKING:
    import pluggy

    from kimiproxy.chat.context import ChatContext


def answer_events(events: Iterable[Event]) -> Iterator[Event]:
    """``events`` up to :class:`Finished`; an upstream failure or a cut-off stream raises."""
    for event in events:
        if isinstance(event, UpstreamFailed):
            raise event.error
        yield event
        if isinstance(event, Finished):
            return
    raise UpstreamError("Kimi's answer was cut off before it finished")


class AnswerAssembly:
    """One answer being assembled into ``message``; ``streaming`` decides whether deltas are
    post-processed and yielded one by one, or only the whole message is."""

    def __init__(self, pm: pluggy.PluginManager, context: ChatContext, streaming: bool):
        self.pm = pm
        self.context = context
        self.streaming = streaming
        self.message = AnswerMessage()
        self._content: list[str] = []
        self._reasoning: list[str] = []

    def run(self, events: Iterable[Event]) -> Iterator[Delta]:
        """Consume ``events``; yields client-ready deltas when streaming, none otherwise."""
        detector = ToolCallDetector.for_request(self.context.request)
        message = self.message
        for event in answer_events(events):
            if isinstance(event, TextDelta):
                text = detector.feed(event.text)
                if text:
                    yield from self._emit(Delta("content", text))
            elif isinstance(event, ThinkingDelta):
                yield from self._emit(Delta("reasoning", event.text))
            elif isinstance(event, SearchResult):
                message.search_results.append(event)
                number = len(message.search_results)
                yield from self._emit(Delta("citation", "", search_result=event, number=number))
            elif isinstance(event, Finished):
                message.finish_reason = event.reason
            elif isinstance(event, ChatStarted):
                self.context.chat_id = event.chat_id
        detected = detector.finish()
        if detected.tool_calls:
            message.tool_calls, message.finish_reason = detected.tool_calls, "tool_calls"
        elif detected.text:
            yield from self._emit(Delta("content", detected.text))
        message.content = "".join(self._content)
        message.reasoning_content = "".join(self._reasoning)
        self.pm.hook.kimiproxy_process_message(message=message, context=self.context)

    def _emit(self, delta: Delta) -> Iterator[Delta]:
        if self.streaming:
            self.pm.hook.kimiproxy_process_delta(delta=delta, context=self.context)
        if not delta.text:
            return
        (self._reasoning if delta.kind == "reasoning" else self._content).append(delta.text)
        if self.streaming:
            yield delta
