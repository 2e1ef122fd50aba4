"""What an answer said (content, reasoning, finish reason), from deltas or from a body."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Answer:
    """What an answer said, joined from deltas or read from a message."""

    content: str | None = None
    reasoning: str | None = None
    finish_reason: str | None = None
    role: str | None = None
    usage: dict | None = None
    error: dict | None = None


def join_chunks(chunks: list[dict]) -> Answer:
    """Join the deltas of choice 0 into one answer; the usage is the last chunk's, if any."""
    content: list[str] = []
    reasoning: list[str] = []
    answer = Answer()
    for chunk in chunks:
        if isinstance(chunk.get("usage"), dict):
            answer.usage = chunk["usage"]
        for choice in choices_of(chunk):
            if choice.get("index", 0) != 0:
                continue
            delta = choice.get("delta") if isinstance(choice.get("delta"), dict) else {}
            if isinstance(delta.get("content"), str):
                content.append(delta["content"])
            if isinstance(delta.get("reasoning_content"), str):
                reasoning.append(delta["reasoning_content"])
            if answer.role is None and isinstance(delta.get("role"), str):
                answer.role = delta["role"]
            if choice.get("finish_reason") is not None:
                answer.finish_reason = choice["finish_reason"]
    answer.content = "".join(content)
    answer.reasoning = "".join(reasoning) or None
    return answer


def choices_of(chunk: dict) -> list[dict]:
    choices = chunk.get("choices")
    return [c for c in choices if isinstance(c, dict)] if isinstance(choices, list) else []


def answer_from_completion(body: object) -> Answer:
    """The first choice of a non-streamed chat completion, as an :class:`Answer`."""
    answer = Answer()
    if not isinstance(body, dict):
        return answer
    if isinstance(body.get("usage"), dict):
        answer.usage = body["usage"]
    for choice in choices_of(body):
        if choice.get("index", 0) != 0:
            continue
        message = choice.get("message") if isinstance(choice.get("message"), dict) else {}
        content = message.get("content")
        answer.content = content if isinstance(content, str) else None
        reasoning = message.get("reasoning_content")
        answer.reasoning = reasoning if isinstance(reasoning, str) and reasoning else None
        answer.role = message.get("role")
        answer.finish_reason = choice.get("finish_reason")
        break
    return answer
