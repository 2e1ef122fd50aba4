"""Generation B client: Kimi's Connect RPC API (www.kimi.com, 2025–2026). See
``kimi-protocol.md``, "Generation B".

Errors that arrive before anything was yielded are raised (so the pipeline can retry with another
account); once a :class:`ChatStarted` is out they arrive as :class:`UpstreamFailed`. When a new
chat was created before the failure, :class:`ChatStarted` is yielded first so it can be deleted.
"""

from __future__ import annotations

import logging
import secrets
import threading
from collections import OrderedDict
from collections.abc import Generator, Iterator
from typing import Any, BinaryIO

import requests

from ..errors import AuthenticationFailed, KimiProxyError, NotFound, UpstreamError
from ..events import (
    ChatStarted,
    Event,
    Finished,
    SearchResult,
    TextDelta,
    ThinkingDelta,
    UploadedFile,
    UpstreamFailed,
)
from ..models import ModelSpec
from .base import ChatTurn
from .bodies import FileSlice, MultipartFile, new_boundary
from .connect_framing import FLAG_END_STREAM, EnvelopeDecoder, FramingError, encode_envelope
from .http import connect_error_fields, make_session, map_failure, origin_of, timeouts
from .streams import ResponseChunks
from .tokens import TokenCache, refresh_access_token
from .transport import Transport, parse_json

log = logging.getLogger(__name__)

SCENARIO = "SCENARIO_K2D5"
CHAT_PATH = "/apiv2/kimi.gateway.chat.v1.ChatService/Chat"
LIST_MESSAGES_PATH = "/apiv2/kimi.gateway.chat.v1.ChatService/ListMessages"
DELETE_CHAT_PATH = "/apiv2/kimi.chat.v1.ChatService/DeleteChat"
UPLOAD_PATH = "/apiv2-files/file/upload"
LIST_PAGE_SIZE = 200
PARENT_CACHE_SIZE = 10000


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


def frame_error(error: dict) -> KimiProxyError:
    """A Connect error object (in an error frame or the end-of-stream envelope) → our error."""
    return map_failure(**connect_error_fields(error))


class _Answer:
    """Turns stream frames into events; remembers what the client needs afterwards."""

    def __init__(self, chat_id: str | None):
        self.chat_id = chat_id
        self.new_chat = chat_id is None
        self.message_id: str | None = None
        self.started = False  # ChatStarted handed out
        self.emitted = False  # any event handed out
        self.done = False  # a {"done":{}} frame arrived
        self.ended = False  # the end-of-stream envelope arrived
        self.error: KimiProxyError | None = None
        self._texts: dict[str, str] = {}
        self._thinking_blocks: set[str] = set()
        self._seen_urls: set[str] = set()

    def handle(self, flags: int, frame: dict) -> list[Event]:
        if flags & FLAG_END_STREAM:
            self.ended = True
            if isinstance(frame.get("error"), dict):
                self.error = frame_error(frame["error"])
            return []
        if isinstance(frame.get("error"), dict):
            self.error = frame_error(frame["error"])
            return []
        if "done" in frame:
            # Not the end: an error frame may still follow.
            self.done = True
            return []
        events: list[Event] = []
        chat = frame.get("chat")
        if isinstance(chat, dict) and chat.get("id") and self.chat_id is None:
            self.chat_id = str(chat["id"])
        message = frame.get("message")
        if isinstance(message, dict) and "assistant" in str(message.get("role", "")).lower():
            if message.get("id"):
                self.message_id = str(message["id"])
                events += self.start()
        block = frame.get("block")
        if isinstance(block, dict):
            events += self._block(frame.get("op"), block)
        return events

    def start(self) -> list[Event]:
        """:class:`ChatStarted`, if it is due and has not been handed out yet."""
        if self.started or self.chat_id is None:
            return []
        self.started = True
        return [ChatStarted(self.chat_id, self.message_id)]

    def _block(self, op: object, block: dict) -> list[Event]:
        exception = block.get("exception")
        if isinstance(exception, dict):
            error = exception.get("error") if isinstance(exception.get("error"), dict) else {}
            reason = error.get("reason") or exception.get("reason")
            fields = connect_error_fields(error)
            self.error = map_failure(
                kind=fields["kind"],
                message=fields["message"] or (str(reason) if reason else ""),
                reason=reason or fields["reason"],
            )
            return []
        block_id = str(block.get("id") or "")
        out: list[Event] = []
        think = block.get("think")
        if isinstance(think, dict):
            delta = self._delta("think:" + block_id, op, think.get("content"))
            if delta:
                out.append(ThinkingDelta(delta))
        text = block.get("text")
        if isinstance(text, dict):
            flags = text.get("flags")
            if flags == "thinking" or (isinstance(flags, list) and "thinking" in flags):
                self._thinking_blocks.add(block_id)
            delta = self._delta("text:" + block_id, op, text.get("content"))
            if delta:
                thinking = block_id in self._thinking_blocks
                out.append(ThinkingDelta(delta) if thinking else TextDelta(delta))
        search = block.get("search")
        if isinstance(search, dict):
            for page in search.get("webPages") or []:
                result = self._search_result(page)
                if result is not None:
                    out.append(result)
        return self.start() + out if out else out

    def _delta(self, key: str, op: object, content: object) -> str:
        if not isinstance(content, str) or not content:
            return ""
        so_far = self._texts.get(key, "")
        if op == "append":
            self._texts[key] = so_far + content
            return content
        # "set" replaces the whole content; only what extends the text already sent is new.
        self._texts[key] = content
        return content[len(so_far) :] if content.startswith(so_far) else ""

    def _search_result(self, page: object) -> SearchResult | None:
        if not isinstance(page, dict) or not page.get("url"):
            return None
        url = str(page["url"])
        if url in self._seen_urls:
            return None
        self._seen_urls.add(url)
        return SearchResult(
            title=str(page.get("title") or url),
            url=url,
            site_name=str(page.get("siteName") or page.get("site_name") or ""),
            snippet=str(page.get("snippet") or ""),
            date=str(page.get("publishTime") or page.get("date") or ""),
        )


class ConnectClient:
    """:class:`~kimiproxy.upstream.base.UpstreamClient` for generation B."""

    protocol = "connect"

    def __init__(self, config: dict, session: requests.Session | None = None):
        self._base = str(config["UPSTREAM"]).rstrip("/")
        origin = origin_of(self._base)
        self._timeout = timeouts(config)
        headers = {
            "X-Msh-Platform": "web",
            "Connect-Protocol-Version": "1",
            "X-Msh-Device-Id": str(7 * 10**18 + secrets.randbelow(10**18)),
            "X-Msh-Session-Id": str(17 * 10**17 + secrets.randbelow(10**17)),
            "X-Language": "zh-CN",
            "R-Timezone": "Asia/Shanghai",
            "Origin": origin,
            "Referer": origin + "/",
        }
        if session is None:
            session = make_session(headers)
        else:
            session.headers.update(headers)
        self._session = session
        # Access JWTs live 30 days; refresh ahead of their exp, not on a timer.
        self.tokens = TokenCache(self._refresh, ttl=None)
        self._transport = Transport(self._session, self._base, self.tokens, self._timeout)
        self._parents: OrderedDict[tuple[str, str], str] = OrderedDict()
        self._parents_lock = threading.Lock()

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

    def create_chat(self, credential: str, model: ModelSpec) -> None:
        """Generation B creates the chat with the first message."""
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
        with self._parents_lock:
            for key in [k for k in self._parents if k[1] == chat_id]:
                del self._parents[key]

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
        first = [True]

        def multipart() -> MultipartFile:
            # A retry after a refresh must send the same bytes again from the start.
            part = content if first[0] else content.reopen()
            first[0] = False
            return MultipartFile("file", name, mime_type, part, boundary)

        response = self._transport.send(
            credential,
            "POST",
            UPLOAD_PATH,
            body=multipart,
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
        """The last assistant message of a chat, to continue it from: remembered from this
        process's own answers, otherwise read with ``ListMessages``."""
        key = (credential, chat_id)
        with self._parents_lock:
            cached = self._parents.get(key)
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

    def close(self) -> None:
        self._session.close()

    # -- the answer stream --------------------------------------------------------------------

    def _answer(self, turn: ChatTurn, response: requests.Response) -> Generator[Event, None, None]:
        state = _Answer(turn.chat_id)
        decoder = EnvelopeDecoder()
        failure: KimiProxyError | None = None
        try:
            for chunk in ResponseChunks(response, self._timeout[1]):
                for flags, frame in decoder.feed(chunk):
                    for event in state.handle(flags, frame):
                        state.emitted = True
                        yield event
                    if state.error is not None or state.ended:
                        break
                if state.error is not None or state.ended:
                    break
            else:
                decoder.finish()
        except FramingError as error:
            failure = UpstreamError(f"{error}: the answer could not be read")
        except KimiProxyError as error:
            failure = error
        finally:
            response.close()
        if state.message_id and state.chat_id:
            self._remember(turn.credential, state.chat_id, state.message_id)
        failure = failure or state.error
        if failure is None and not (state.ended or state.done):
            failure = UpstreamError("Kimi stopped sending before the end: the answer was cut off")
        if failure is not None:
            yield from self._fail(state, failure)
            return
        yield from state.start()
        yield Finished("stop")

    @staticmethod
    def _fail(state: _Answer, error: KimiProxyError) -> Iterator[Event]:
        if not state.emitted:
            if not state.new_chat or state.chat_id is None:
                # Nothing reached the caller and no chat needs cleaning up: raise, so the
                # pipeline may retry (with another account).
                raise error
            # A chat was created: announce it so it can be deleted, then report the failure.
            yield from state.start()
        yield UpstreamFailed(error)

    # -- plumbing -----------------------------------------------------------------------------

    def _refresh(self, refresh_token: str) -> str:
        return refresh_access_token(self._session, self._base, refresh_token, self._timeout)

    def _remember(self, credential: str, chat_id: str, message_id: str) -> None:
        with self._parents_lock:
            self._parents[(credential, chat_id)] = message_id
            self._parents.move_to_end((credential, chat_id))
            while len(self._parents) > PARENT_CACHE_SIZE:
                self._parents.popitem(last=False)
