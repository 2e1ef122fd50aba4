"""The ``connect`` client: Kimi's Connect RPC API (www.kimi.com, 2025–2026). See
``docs/kimi-protocol.md``, "The connect protocol" and "The Chat request".

Errors that arrive before anything was yielded are raised (so the pipeline can retry with another
account); once a :class:`ChatStarted` is out they arrive as :class:`UpstreamFailed`. When a new
chat was created before the failure, :class:`ChatStarted` is yielded first so it can be deleted.
Frames become events in :mod:`kimiproxy.upstream.connect.frames`;
:mod:`kimiproxy.upstream.connect.history` finds the message a turn continues from.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator
from typing import TYPE_CHECKING, Any, BinaryIO

import requests

from kimiproxy.errors import AuthenticationFailed, KimiProxyError, NotFound, UpstreamError
from kimiproxy.upstream.base import ChatTurn
from kimiproxy.upstream.connect.frames import AnswerFrames
from kimiproxy.upstream.connect.framing import FramingError, encode_envelope, read_envelopes
from kimiproxy.upstream.connect.history import ChatHistory
from kimiproxy.upstream.events import Event, Finished, UploadedFile, UpstreamFailed
from kimiproxy.upstream.failures import answer_cut_off
from kimiproxy.upstream.keeper import open_directory
from kimiproxy.upstream.model_spec import ModelSpec
from kimiproxy.upstream.sessions import browser_session, origin_of, timeouts
from kimiproxy.upstream.streams import ResponseChunks
from kimiproxy.upstream.transport import Transport, parse_json
from kimiproxy.upstream.upload_bodies import FileSlice, MultipartFile, new_boundary

if TYPE_CHECKING:
    from kimiproxy.accounts.directory import AccountDirectory
    from kimiproxy.settings import Settings

SCENARIO = "SCENARIO_K2D5"
CHAT_PATH = "/apiv2/kimi.gateway.chat.v1.ChatService/Chat"
DELETE_CHAT_PATH = "/apiv2/kimi.chat.v1.ChatService/DeleteChat"
UPLOAD_PATH = "/apiv2-files/file/upload"
SUBSCRIPTION_PATH = "/apiv2/kimi.gateway.order.v1.SubscriptionService/GetSubscription"
CONNECT_HEADERS = {"Connect-Protocol-Version": "1", "X-Language": "zh-CN"}


def chat_body(turn: ChatTurn, parent_id: str | None = None) -> dict:
    """The Chat RPC request for one turn: one ``file`` block per upload, then the text."""
    model = turn.model
    blocks: list[dict] = [{"message_id": "", "file": {"id": f.id}} for f in turn.files]
    blocks.append({"message_id": "", "text": {"content": turn.prompt}})
    message: dict[str, Any] = {"role": "user", "scenario": SCENARIO, "blocks": blocks}
    body: dict[str, Any] = {"scenario": SCENARIO}
    if turn.chat_id:
        body["chat_id"] = turn.chat_id
        if parent_id:
            message["parent_id"] = parent_id
    if model.search:
        body["tools"] = [{"type": "TOOL_TYPE_SEARCH", "search": {}}]
    if model.agent_id:
        body["kimiplus_id"] = model.agent_id
    body["message"] = message
    body["options"] = {"thinking": model.thinking}
    return body


class ConnectClient:
    """:class:`~kimiproxy.upstream.base.UpstreamClient` for ``connect``."""

    protocol = "connect"

    def __init__(
        self,
        settings: Settings,
        session: requests.Session | None = None,
        directory: AccountDirectory | None = None,
    ):
        base = settings.upstream_url
        self._timeout = timeouts(settings)
        self._session = browser_session(origin_of(base), CONNECT_HEADERS, session)
        # Access JWTs live from about 15 minutes to 30 days; refresh ahead of their exp, not on
        # a timer.
        self._directory = directory or open_directory(settings)
        self._owns_store = directory is None
        self._transport = Transport.refreshing_through(
            self._session, settings, self._directory, ttl=None
        )
        self.tokens = self._transport.tokens
        self.history = ChatHistory(self._transport)

    # -- public interface ---------------------------------------------------------------------

    def chat(self, turn: ChatTurn) -> Iterator[Event]:
        """Stream one turn; see :class:`~kimiproxy.upstream.base.UpstreamClient`."""
        parent_id = None
        if turn.chat_id:
            parent_id = self.parent_for(turn.credential, turn.chat_id)
        payload = encode_envelope(chat_body(turn, parent_id))
        refreshed = False
        while True:
            response = self._transport.send(
                turn.credential,
                "POST",
                CHAT_PATH,
                body=lambda: payload,
                headers={"Content-Type": "application/connect+json"},
                stream=True,
            )
            answer = self._answer(turn, response)
            yielded = False
            try:
                for event in answer:
                    yielded = True
                    yield event
                return
            except AuthenticationFailed:
                # An "unauthenticated" end-of-stream before any output: refresh once and retry.
                if yielded or refreshed or not self.tokens.can_refresh(turn.credential):
                    raise
                refreshed = True
                self.tokens.invalidate(turn.credential)
            finally:
                answer.close()

    def check_token(self, credential: str) -> bool:
        """``GetSubscription`` answers for a live account."""
        try:
            self._transport.json(credential, "POST", SUBSCRIPTION_PATH, json={})
        except AuthenticationFailed:
            return False
        return True

    def create_chat(self, credential: str, model: ModelSpec) -> None:
        """``connect`` creates the chat with its first message."""
        return None

    def delete_chat(self, credential: str, chat_id: str) -> None:
        """``DeleteChat``; a chat that is already gone is fine."""
        try:
            response = self._transport.send(
                credential,
                "POST",
                DELETE_CHAT_PATH,
                json={"chat_id": chat_id},
                allow_status=(404,),
            )
        except NotFound:
            pass
        else:
            response.close()
        self.history.forget(chat_id)

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
        """Multipart upload, streamed from ``body``; Kimi answers ``{"file": {"id", ...}}``."""
        content = FileSlice(body, size)
        boundary = new_boundary()
        response = self._transport.send(
            credential,
            "POST",
            UPLOAD_PATH,
            # A retry after a refresh must send the same bytes again from the start.
            body=lambda: MultipartFile("file", name, mime_type, content.reopen(), boundary),
            headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
        )
        answer = parse_json(response, "the file upload")
        file_object = answer.get("file") if isinstance(answer, dict) else None
        if not isinstance(file_object, dict) or not file_object.get("id"):
            raise UpstreamError(f'Kimi did not return an id for the uploaded file "{name}"')
        return UploadedFile(
            id=str(file_object["id"]),
            name=name,
            size=size,
            mime_type=mime_type,
            kind=kind,
            details=file_object,
        )

    def parent_for(self, credential: str, chat_id: str) -> str | None:
        """The last assistant message of a chat, to continue it from; see :class:`ChatHistory`."""
        return self.history.parent_for(credential, chat_id)

    def close(self) -> None:
        self._session.close()
        if self._owns_store:
            self._directory.store.close()

    # -- the answer stream --------------------------------------------------------------------

    def _answer(self, turn: ChatTurn, response: requests.Response) -> Generator[Event, None, None]:
        frames = AnswerFrames(turn.chat_id, secrets=self.tokens.secrets_for(turn.credential))
        emitted = False
        failure: KimiProxyError | None = None
        try:
            for flags, frame in read_envelopes(ResponseChunks(response, self._timeout[1])):
                for event in frames.handle(flags, frame):
                    emitted = True
                    yield event
                if frames.error is not None or frames.ended:
                    break
        except FramingError as error:
            failure = UpstreamError(f"{error}: the answer could not be read")
        except KimiProxyError as error:
            failure = error
        finally:
            response.close()
            # Also when the caller stops reading: Kimi keeps the answer, so the next turn of
            # this chat must follow it.
            if frames.message_id and frames.chat_id:
                self.history.remember(turn.credential, frames.chat_id, frames.message_id)
        failure = failure or frames.error
        if failure is None and not (frames.ended or frames.done):
            failure = answer_cut_off()
        if failure is not None:
            yield from self._fail(frames, failure, emitted)
            return
        yield from frames.start()
        yield Finished("stop")

    @staticmethod
    def _fail(frames: AnswerFrames, error: KimiProxyError, emitted: bool) -> Iterator[Event]:
        if not emitted:
            if not frames.new_chat or frames.chat_id is None:
                # Nothing reached the caller and no chat needs cleaning up: raise, so the
                # pipeline may retry (with another account).
                raise error
            # A chat was created: announce it so it can be deleted, then report the failure.
            yield from frames.start()
        yield UpstreamFailed(error)
