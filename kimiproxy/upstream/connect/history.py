"""Which message a ``connect`` turn continues from. Kimi wants the id of the chat's latest
assistant message as ``parent_id``: this process remembers the answers it streamed (in a bounded
cache) and otherwise reads the chat's messages with ``ListMessages``. See
``docs/kimi-protocol.md``, "ListMessages and the parent id"."""

from __future__ import annotations

import threading
from collections import OrderedDict

from kimiproxy.upstream.transport import Transport

LIST_MESSAGES_PATH = "/apiv2/kimi.gateway.chat.v1.ChatService/ListMessages"
LIST_PAGE_SIZE = 200
PARENT_CACHE_SIZE = 10000


def latest_assistant_id(messages: list) -> str | None:
    """The assistant message no other message answers (the tip of the chat); failing that, the
    first assistant message listed."""
    assistants = [
        m
        for m in messages
        if isinstance(m, dict) and m.get("id") and "assistant" in str(m.get("role", "")).lower()
    ]
    if not assistants:
        return None
    parents = {m.get("parentId") or m.get("parent_id") for m in messages if isinstance(m, dict)}
    leaves = [m for m in assistants if m["id"] not in parents]
    return str((leaves or assistants)[0]["id"])


class ChatHistory:
    """The latest assistant message of each ``(credential, chat)``, least recently used forgotten
    first. The lock only guards the cache; it is never held across a network call."""

    def __init__(self, transport: Transport, max_chats: int = PARENT_CACHE_SIZE):
        self._transport = transport
        self._max_chats = max_chats
        self._parents: OrderedDict[tuple[str, str], str] = OrderedDict()
        self._lock = threading.Lock()

    def parent_for(self, credential: str, chat_id: str) -> str | None:
        """The message to continue ``chat_id`` from: remembered, else read from Kimi."""
        cached = self.remembered(credential, chat_id)
        if cached:
            return cached
        answer = self._transport.json(
            credential,
            "POST",
            LIST_MESSAGES_PATH,
            json={"chat_id": chat_id, "page_size": LIST_PAGE_SIZE},
        )
        messages = answer.get("messages") if isinstance(answer, dict) else None
        return latest_assistant_id(messages or [])

    def remembered(self, credential: str, chat_id: str) -> str | None:
        with self._lock:
            return self._parents.get((credential, chat_id))

    def remember(self, credential: str, chat_id: str, message_id: str) -> None:
        key = (credential, chat_id)
        with self._lock:
            self._parents[key] = message_id
            self._parents.move_to_end(key)
            while len(self._parents) > self._max_chats:
                self._parents.popitem(last=False)

    def forget(self, chat_id: str) -> None:
        """Drop a deleted chat, whichever credential used it."""
        with self._lock:
            for key in [k for k in self._parents if k[1] == chat_id]:
                del self._parents[key]
