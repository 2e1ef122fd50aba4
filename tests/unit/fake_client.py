"""A scripted stand-in for an upstream client, for unit tests of the pipeline and the routes."""

from __future__ import annotations

from kimiproxy.upstream import ChatTurn
from kimiproxy.upstream.events import ChatStarted, Finished, TextDelta


class ScriptedClient:
    """Answers every turn with ``script(turn)`` (a list of events or an exception to raise)."""

    protocol = "connect"

    def __init__(self, script=None):
        self.script = script or (
            lambda turn: [TextDelta("Hello"), TextDelta(" there"), Finished("stop")]
        )
        self.turns: list[ChatTurn] = []
        self.deleted: list[tuple[str, str]] = []
        self.closed_streams = 0
        self.counter = 0

    def chat(self, turn: ChatTurn):
        self.turns.append(turn)
        self.counter += 1
        chat_id = turn.chat_id or f"chat{self.counter:016d}"
        outcome = self.script(turn)
        if isinstance(outcome, Exception):
            raise outcome
        try:
            yield ChatStarted(chat_id)
            yield from outcome
        finally:
            self.closed_streams += 1

    def create_chat(self, credential, model):
        return None

    def delete_chat(self, credential, chat_id):
        self.deleted.append((credential, chat_id))

    def close(self):
        pass
