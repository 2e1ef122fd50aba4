"""The ``connect`` answer stream: Connect frames (``chat``, ``message`` and ``block`` updates,
``done``, errors) turned into :mod:`kimiproxy.upstream.events`. See ``docs/kimi-protocol.md``,
"Chat stream frames".
"""

from __future__ import annotations

from collections.abc import Iterable

from kimiproxy.errors import KimiProxyError
from kimiproxy.upstream.connect.framing import FLAG_END_STREAM
from kimiproxy.upstream.events import ChatStarted, Event, TextDelta, ThinkingDelta
from kimiproxy.upstream.failures import connect_error_fields, map_failure
from kimiproxy.upstream.search_results import SearchResults


def frame_error(error: dict, secrets: Iterable[str] = ()) -> KimiProxyError:
    """A Connect error object (in an error frame or the end-of-stream envelope) → our error."""
    return map_failure(**connect_error_fields(error), secrets=secrets)


class AnswerFrames:
    """Turns the frames of one answer into events; remembers what the client needs afterwards.

    ``chat_id`` is the chat being continued (``None`` for a new one, whose id arrives in a
    ``chat`` frame); ``secrets`` are kept out of quoted error messages."""

    def __init__(self, chat_id: str | None, secrets: Iterable[str] = ()):
        self.chat_id = chat_id
        self.new_chat = chat_id is None
        self.message_id: str | None = None
        self.started = False  # ChatStarted handed out
        self.done = False  # a {"done":{}} frame arrived
        self.ended = False  # the end-of-stream envelope arrived
        self.error: KimiProxyError | None = None
        self._secrets = tuple(secrets)
        self._texts: dict[str, str] = {}
        self._thinking_blocks: set[str] = set()
        self._search_results = SearchResults()

    def handle(self, flags: int, frame: dict) -> list[Event]:
        """The events ``frame`` brings (often none); errors are kept in :attr:`error`."""
        if flags & FLAG_END_STREAM:
            self.ended = True
            if isinstance(frame.get("error"), dict):
                self.error = frame_error(frame["error"], self._secrets)
            return []
        if isinstance(frame.get("error"), dict):
            self.error = frame_error(frame["error"], self._secrets)
            return []
        if "done" in frame:
            # Not the end: an error frame may still follow.
            self.done = True
            return []
        events: list[Event] = []
        chat = frame.get("chat")
        if isinstance(chat, dict) and chat.get("id") and self.chat_id is None:
            self.chat_id = str(chat["id"])
        message = frame.get("message")
        if isinstance(message, dict) and "assistant" in str(message.get("role", "")).lower():
            if message.get("id"):
                self.message_id = str(message["id"])
                events += self.start()
        block = frame.get("block")
        if isinstance(block, dict):
            events += self._block(frame.get("op"), block)
        return events

    def start(self) -> list[Event]:
        """:class:`ChatStarted`, if it is due and has not been handed out yet."""
        if self.started or self.chat_id is None:
            return []
        self.started = True
        return [ChatStarted(self.chat_id, self.message_id)]

    def _block(self, op: object, block: dict) -> list[Event]:
        exception = block.get("exception")
        if isinstance(exception, dict):
            self.error = self._block_error(exception)
            return []
        block_id = str(block.get("id") or "")
        out: list[Event] = []
        think = block.get("think")
        if isinstance(think, dict):
            delta = self._delta("think:" + block_id, op, think.get("content"))
            if delta:
                out.append(ThinkingDelta(delta))
        text = block.get("text")
        if isinstance(text, dict):
            flags = text.get("flags")
            if flags == "thinking" or (isinstance(flags, list) and "thinking" in flags):
                self._thinking_blocks.add(block_id)
            delta = self._delta("text:" + block_id, op, text.get("content"))
            if delta:
                thinking = block_id in self._thinking_blocks
                out.append(ThinkingDelta(delta) if thinking else TextDelta(delta))
        search = block.get("search")
        if isinstance(search, dict):
            for page in search.get("webPages") or []:
                if not isinstance(page, dict):
                    continue
                result = self._search_results.first_sighting(
                    page.get("url"),
                    page.get("title"),
                    page.get("siteName") or page.get("site_name"),
                    page.get("snippet"),
                    page.get("publishTime") or page.get("date"),
                )
                if result is not None:
                    out.append(result)
        return self.start() + out if out else out

    def _block_error(self, exception: dict) -> KimiProxyError:
        """``block.exception``: its ``error`` may hold only a ``reason`` (e.g. an overload)."""
        error = exception.get("error") if isinstance(exception.get("error"), dict) else {}
        reason = error.get("reason") or exception.get("reason")
        fields = connect_error_fields(error)
        return map_failure(
            kind=fields["kind"],
            message=fields["message"] or (str(reason) if reason else ""),
            reason=reason or fields["reason"],
            secrets=self._secrets,
        )

    def _delta(self, key: str, op: object, content: object) -> str:
        if not isinstance(content, str) or not content:
            return ""
        so_far = self._texts.get(key, "")
        if op == "append":
            self._texts[key] = so_far + content
            return content
        # "set" replaces the whole content; only what extends the text already sent is new.
        self._texts[key] = content
        return content[len(so_far) :] if content.startswith(so_far) else ""
