"""Chat cleanup: deletes every upstream chat the request created, so nothing piles up in the
Kimi account — unless the client asked to keep it through ``conversation_id`` and it answered."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from kimiproxy import hookimpl

if TYPE_CHECKING:
    from kimiproxy.chat.context import ChatContext
    from kimiproxy.errors import KimiProxyError

log = logging.getLogger(__name__)


@hookimpl
def kimiproxy_cleanup(context: ChatContext, error: KimiProxyError | None) -> None:
    for credential, chat_id in context.created_chats:
        answered = error is None and not context.client_disconnected
        if context.keep_chat and answered and chat_id == context.chat_id:
            continue
        try:
            context.client.delete_chat(credential, chat_id)
        except Exception as exc:  # cleanup is best effort; the answer is already decided
            log.warning(
                "request %s: could not delete chat %s: %s",
                context.request_id,
                chat_id,
                getattr(exc, "message", type(exc).__name__),
            )
