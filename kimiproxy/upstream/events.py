"""Normalized events that every upstream client yields, whichever Kimi protocol it speaks."""

from __future__ import annotations

from dataclasses import dataclass, field

from kimiproxy.errors import KimiProxyError


@dataclass(frozen=True)
class ChatStarted:
    """The upstream chat this answer lives in; ``message_id`` is the assistant message, if known."""

    chat_id: str
    message_id: str | None = None


@dataclass(frozen=True)
class TextDelta:
    """A piece of the answer text."""

    text: str


@dataclass(frozen=True)
class ThinkingDelta:
    """A piece of the model's reasoning (thinking models)."""

    text: str


@dataclass(frozen=True)
class SearchResult:
    """One web-search result the answer draws on."""

    title: str
    url: str
    site_name: str = ""
    snippet: str = ""
    date: str = ""

    def to_dict(self) -> dict:
        return {
            "title": self.title,
            "url": self.url,
            "site_name": self.site_name,
            "snippet": self.snippet,
            "date": self.date,
        }


@dataclass(frozen=True)
class Finished:
    """The answer is complete: ``reason`` is ``stop`` or ``length``."""

    reason: str = "stop"


@dataclass(frozen=True)
class UpstreamFailed:
    """Kimi stopped the answer with an error."""

    error: KimiProxyError


Event = ChatStarted | TextDelta | ThinkingDelta | SearchResult | Finished | UpstreamFailed


@dataclass
class UploadedFile:
    """A file already uploaded upstream, ready to be referenced by a chat turn."""

    id: str
    name: str
    size: int
    mime_type: str
    kind: str = "file"  # "file" or "image"
    details: dict = field(default_factory=dict)  # protocol-specific object (``rest`` refs_file)
