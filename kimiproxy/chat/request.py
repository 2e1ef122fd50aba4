"""The chat core's request: the checked messages and options of one chat completion.

:mod:`kimiproxy.wire.openai_chat_request` reads an OpenAI request body into it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from kimiproxy.upstream.model_spec import ModelSpec


@dataclass
class Message:
    """One chat message: its role, its text, and its content parts other than text."""

    role: str
    text: str
    parts: list[dict] = field(default_factory=list)
    tool_calls: list[dict] = field(default_factory=list)  # an assistant's earlier tool calls
    tool_call_id: str | None = None  # what a ``tool`` message answers


@dataclass
class ChatRequest:
    """A validated ``POST /v1/chat/completions`` body."""

    model_name: str
    model: ModelSpec
    messages: list[Message]
    stream: bool = False
    include_usage: bool = False
    conversation_id: str | None = None  # an upstream chat to continue
    keep_chat: bool = False  # conversation_id given: the chat outlives the request
    strip_citations: bool = False
    tools: list[dict] = field(default_factory=list)  # the ``function`` objects offered
    tool_choice: str | dict = "auto"
    body: dict = field(default_factory=dict)

    @property
    def last_message(self) -> Message:
        return self.messages[-1]
