"""The interface every upstream client implements, and the turn it is given."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import BinaryIO, Protocol

from kimiproxy.upstream.events import Event, UploadedFile
from kimiproxy.upstream.model_spec import ModelSpec


@dataclass
class ChatTurn:
    """One user turn to send upstream.

    ``credential`` is a Kimi refresh token or access JWT. ``chat_id`` continues an existing chat
    (then ``prompt`` is only the new user text); without it the client creates a chat.
    """

    credential: str = field(repr=False)  # a token: never in a log line
    prompt: str
    model: ModelSpec
    chat_id: str | None = None
    files: list[UploadedFile] = field(default_factory=list)
    has_files: bool = False


class UpstreamClient(Protocol):
    """What the chat core needs from a protocol client, ``connect`` or ``rest``.

    ``chat`` yields :mod:`kimiproxy.upstream.events`: first :class:`ChatStarted` (as soon as the
    chat id is
    known, so a failure after it can still be cleaned up), then deltas, search results, and one
    :class:`Finished` or :class:`UpstreamFailed`. Errors before the first event are raised as
    :class:`kimiproxy.errors.KimiProxyError`. Closing the iterator closes the upstream stream.
    """

    protocol: str

    def chat(self, turn: ChatTurn) -> Iterator[Event]: ...

    def create_chat(self, credential: str, model: ModelSpec) -> str | None:
        """Create an empty chat and return its id (``rest``, where uploads need a chat id);
        ``connect`` creates chats with their first message and returns ``None``."""

    def delete_chat(self, credential: str, chat_id: str) -> None: ...

    def upload_file(
        self,
        credential: str,
        name: str,
        mime_type: str,
        body: BinaryIO,
        size: int,
        kind: str,
        chat_id: str | None = None,
    ) -> UploadedFile:
        """Upload ``size`` bytes read from the seekable file ``body`` (``kind`` is ``file`` or
        ``image``) without reading it whole into memory, wait until Kimi has parsed it
        (bounded by ``FILE_PARSE_TIMEOUT``) and return the reference to put in a turn."""

    def check_token(self, credential: str) -> bool:
        """Whether Kimi accepts ``credential`` (refreshing it if it is a refresh token); other
        failures raise :class:`kimiproxy.errors.KimiProxyError`."""

    def close(self) -> None: ...
