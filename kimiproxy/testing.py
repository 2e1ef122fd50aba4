"""Testing plugins and embeddings without Kimi: a scripted upstream client, helpers that build
what it answers, and an app factory.

A plugin's test fits in a few lines::

    from kimiproxy import testing

    def test_my_plugin_shouts():
        client = testing.ScriptedClient(testing.answer("Hello", " there"))
        app = testing.make_app(plugins=[my_plugin], client=client)
        assert testing.chat(app, "hi")["choices"][0]["message"]["content"] == "HELLO THERE"

The app is the real one — routes, chat core, built-in plugins — with only the upstream replaced.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import BinaryIO

from flask import Flask
from werkzeug.test import TestResponse

from kimiproxy.api.app import create_app
from kimiproxy.chat.model_names import ModelSpec
from kimiproxy.settings import ENV_PREFIX, Settings, load_config
from kimiproxy.upstream import ChatTurn, UpstreamClient
from kimiproxy.upstream.events import (
    ChatStarted,
    Event,
    Finished,
    TextDelta,
    UploadedFile,
    UpstreamFailed,
)

# What one turn is answered with: the events after ``ChatStarted``, or an exception raised
# before any event (a failure before Kimi answered).
Outcome = Iterable[Event] | BaseException
Script = Callable[[ChatTurn], Outcome]
TOKEN = "test-token"


def answer(*pieces: str, finish: str = "stop") -> list[Event]:
    """An answer streamed as ``pieces`` of text, then finished with ``finish``."""
    return [*(TextDelta(piece) for piece in pieces), Finished(finish)]


def failing(error: BaseException, *pieces: str) -> list[Event]:
    """An answer that Kimi stops with ``error``, after ``pieces`` of text if any (none: the
    request fails before any output, and another account may be tried)."""
    return [*(TextDelta(piece) for piece in pieces), UpstreamFailed(error)]


def in_turns(*outcomes: Outcome) -> Script:
    """A script answering the first turn with the first outcome, the second with the second, and
    every later turn with the last one (a retry on another account is a new turn)."""
    if not outcomes:
        raise ValueError("in_turns needs at least one outcome")
    answered = 0

    def script(turn: ChatTurn) -> Outcome:
        nonlocal answered
        answered += 1
        return outcomes[min(answered, len(outcomes)) - 1]

    return script


class ScriptedClient:
    """An upstream client that answers every turn with ``script(turn)``: a list of events, or an
    exception to raise before any. ``script`` may also be one outcome for every turn; it
    defaults to ``answer("Hello", " there")``.

    It records what a test may check: ``turns`` sent, ``deleted`` chats as ``(credential,
    chat_id)``, ``uploaded`` files and ``closed_streams``. New chats get ids ``chat0…01``,
    ``chat0…02``, … in the order of the turns.
    """

    protocol = "connect"

    def __init__(self, script: Script | Outcome | None = None) -> None:
        self.script = _as_script(script if script is not None else answer("Hello", " there"))
        self.turns: list[ChatTurn] = []
        self.deleted: list[tuple[str, str]] = []
        self.uploaded: list[UploadedFile] = []
        self.closed_streams = 0
        self.counter = 0

    def chat(self, turn: ChatTurn) -> Iterator[Event]:
        self.turns.append(turn)
        self.counter += 1
        chat_id = turn.chat_id or f"chat{self.counter:016d}"
        outcome = self.script(turn)
        if isinstance(outcome, BaseException):
            raise outcome
        return self._stream(chat_id, outcome)

    def _stream(self, chat_id: str, events: Iterable[Event]) -> Iterator[Event]:
        try:
            yield ChatStarted(chat_id)
            yield from events
        finally:
            self.closed_streams += 1

    def create_chat(self, credential: str, model: ModelSpec) -> str | None:
        return None  # like the connect protocol: the first turn creates the chat

    def delete_chat(self, credential: str, chat_id: str) -> None:
        self.deleted.append((credential, chat_id))

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
        uploaded = UploadedFile(f"file{len(self.uploaded) + 1}", name, size, mime_type, kind)
        self.uploaded.append(uploaded)
        return uploaded

    def check_token(self, credential: str) -> bool:
        return True

    def close(self) -> None:
        pass


def _as_script(script: Script | Outcome) -> Script:
    if callable(script):
        return script
    fixed = script if isinstance(script, BaseException) else list(script)
    return lambda turn: fixed


def make_app(
    plugins: Iterable[object] = (),
    settings: Mapping[str, object] | Settings | None = None,
    client: UpstreamClient | None = None,
) -> Flask:
    """The kimiproxy app with ``plugins`` registered before any hook fires (start-up hooks
    included), answering through ``client`` (a new :class:`ScriptedClient` by default).

    ``settings`` are overrides as for ``create_app`` (or a complete :class:`Settings`, used as
    it is). The process's ``KIMIPROXY_*`` variables are ignored, so a test gives the same result
    in any shell, and entry-point plugins are not loaded unless ``LOAD_ENTRYPOINT_PLUGINS`` is
    set. Its account state lives in a new temporary directory unless ``STATE`` or ``DATA_DIR``
    is given. The client is ``app.extensions["kimiproxy"].client``.
    """
    if not isinstance(settings, Settings):
        overrides = dict(settings or {})
        names = {str(key).upper().removeprefix(ENV_PREFIX) for key in overrides}
        if "LOAD_ENTRYPOINT_PLUGINS" not in names:
            overrides["LOAD_ENTRYPOINT_PLUGINS"] = False
        if not names & {"STATE", "DATA_DIR"}:  # accounts, leases and health of its own
            overrides["DATA_DIR"] = tempfile.mkdtemp(prefix="kimiproxy-test-state-")
        settings = load_config(overrides, environ={})
    return create_app(settings, client=client or ScriptedClient(), plugins=plugins)


def chat(app: Flask, messages: str | list[dict], *, token: str = TOKEN, **body: object) -> dict:
    """``POST /v1/chat/completions`` (not streamed); the JSON answer, an error body included.
    ``messages`` may be one user message's text."""
    response = _post(app, messages, token, {**body, "stream": False})
    return response.get_json()


def stream(
    app: Flask, messages: str | list[dict], *, token: str = TOKEN, **body: object
) -> list[dict]:
    """``POST /v1/chat/completions`` streamed; every event's JSON up to ``[DONE]`` (chunks, and
    an ``{"error": …}`` event when the answer failed midway). A request refused before the stream
    began gives a list of its one error body."""
    response = _post(app, messages, token, {**body, "stream": True})
    text = response.get_data(as_text=True)
    payloads = [line.removeprefix("data: ") for line in text.split("\n\n") if line]
    return [json.loads(payload) for payload in payloads if payload != "[DONE]"]


def streamed_content(chunks: list[dict]) -> str:
    """The ``content`` of a streamed answer's chunks, joined."""
    return "".join(
        choice["delta"].get("content") or ""
        for chunk in chunks
        for choice in chunk.get("choices", [])
    )


def _post(app: Flask, messages: str | list[dict], token: str, body: dict) -> TestResponse:
    if isinstance(messages, str):
        messages = [{"role": "user", "content": messages}]
    return app.test_client().post(
        "/v1/chat/completions",
        json={"messages": messages, **body},
        headers={"Authorization": f"Bearer {token}"},
    )
