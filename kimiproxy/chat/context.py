"""Per-request state shared by the chat core and the plugins."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from kimiproxy.upstream.events import SearchResult, UploadedFile

if TYPE_CHECKING:
    from kimiproxy.chat.request import ChatRequest
    from kimiproxy.settings import Settings
    from kimiproxy.upstream import UpstreamClient


@dataclass
class Delta:
    """One piece of streamed output: ``kind`` is ``content``, ``reasoning`` or ``citation``
    (a web result, ``search_result``, the ``number``-th of the answer, whose text a plugin
    renders)."""

    kind: str
    text: str
    search_result: SearchResult | None = None
    number: int = 0


@dataclass
class AnswerMessage:
    """The complete answer. ``citations`` is the kimi-free-api style citation block that follows
    the text in a non-streamed answer; ``text`` is what the client receives as ``content``."""

    content: str = ""
    reasoning_content: str = ""
    citations: str = ""
    search_results: list[SearchResult] = field(default_factory=list)
    tool_calls: list[dict] = field(default_factory=list)  # OpenAI tool calls, when Kimi made any
    finish_reason: str = "stop"

    @property
    def text(self) -> str:
        return self.content + self.citations


@dataclass
class ChatContext:
    """What one chat request knows as it flows through the hooks."""

    settings: Settings
    client: UpstreamClient
    request: ChatRequest
    credentials: list[str] = field(repr=False)  # tokens: never in a log line
    credential: str = field(default="", repr=False)
    prompt: str = ""
    files: list[UploadedFile] = field(default_factory=list)
    chat_id: str | None = None  # the upstream chat the answer is in
    # (credential, chat id) of every chat the request created
    created_chats: list[tuple[str, str]] = field(default_factory=list, repr=False)
    client_disconnected: bool = False
    request_id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    extra: dict = field(default_factory=dict)  # free space for plugins

    @property
    def keep_chat(self) -> bool:
        """The client asked for the chat to outlive this request (``conversation_id``)."""
        return self.request.keep_chat

    def chat_created(self, chat_id: str) -> None:
        """Record that this request created ``chat_id`` with the current credential."""
        self.chat_id = chat_id
        if (self.credential, chat_id) not in self.created_chats:
            self.created_chats.append((self.credential, chat_id))

    def ensure_chat(self) -> str | None:
        """Create the upstream chat now if the protocol needs one before the answer (uploads
        with the ``rest`` protocol); returns its id, or ``None`` where the first turn creates
        the chat (``connect``)."""
        if self.chat_id is None:
            chat_id = self.client.create_chat(self.credential, self.request.model)
            if chat_id:
                self.chat_created(chat_id)
        return self.chat_id
