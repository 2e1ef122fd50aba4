"""Serialising answers as OpenAI chat-completion objects and server-sent events."""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING

from kimiproxy.chat.context import AnswerMessage
from kimiproxy.errors import KimiProxyError

if TYPE_CHECKING:
    from kimiproxy.chat.core import ChatAnswer

DONE = b"data: [DONE]\n\n"


def completion_id(answer: ChatAnswer) -> str:
    """The upstream chat id, which a client can pass back as ``conversation_id``."""
    return answer.context.chat_id or f"chatcmpl-{answer.context.request_id}"


def response_extras(answer: ChatAnswer) -> dict:
    """kimiproxy's additions to the OpenAI body: the web results and the chat to continue."""
    extra: dict = {}
    if answer.message.search_results:
        extra["search_results"] = [r.to_dict() for r in answer.message.search_results]
    if answer.conversation_id:
        extra["conversation_id"] = answer.conversation_id
    return extra


def sse(payload: dict) -> bytes:
    return (
        b"data: "
        + json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
        + b"\n\n"
    )


class ChunkWriter:
    """Builds the chunks of one streamed answer: one ``id`` and ``created`` for all of them."""

    def __init__(self, completion_id: str, model: str, include_usage: bool):
        self.id = completion_id
        self.model = model
        self.created = int(time.time())
        self.include_usage = include_usage
        self.extra: dict = {}

    def _chunk(self, delta: dict, finish_reason: str | None = None, **extra) -> bytes:
        chunk = {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "choices": [
                {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
            ],
        }
        if self.include_usage:
            chunk["usage"] = None
        chunk.update(extra)
        return sse(chunk)

    def first(self) -> bytes:
        return self._chunk({"role": "assistant", "content": ""})

    def content(self, text: str) -> bytes:
        return self._chunk({"content": text})

    def reasoning(self, text: str) -> bytes:
        return self._chunk({"reasoning_content": text})

    def tool_calls(self, calls: list[dict]) -> bytes:
        return self._chunk({"tool_calls": [{"index": i, **call} for i, call in enumerate(calls)]})

    def finish(self, reason: str, extra: dict) -> bytes:
        return self._chunk({}, reason, **extra)

    def usage(self, usage: dict) -> bytes:
        return sse(
            {
                "id": self.id,
                "object": "chat.completion.chunk",
                "created": self.created,
                "model": self.model,
                "choices": [],
                "usage": usage,
            }
        )


def stream_error(error: KimiProxyError) -> bytes:
    """The last event of a stream that failed after it began; ``[DONE]`` follows."""
    return sse(error.to_dict())


def completion_body(
    completion_id: str, model: str, message: AnswerMessage, usage: dict, extra: dict
) -> dict:
    content = message.text if message.text or not message.tool_calls else None
    body_message = {"role": "assistant", "content": content, "refusal": None}
    if message.tool_calls:
        body_message["tool_calls"] = message.tool_calls
    if message.reasoning_content:
        body_message["reasoning_content"] = message.reasoning_content
    body = {
        "id": completion_id,
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": body_message,
                "logprobs": None,
                "finish_reason": message.finish_reason,
            }
        ],
        "usage": usage,
    }
    body.update(extra)
    return body
