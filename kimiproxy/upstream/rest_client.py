"""Generation A client: Kimi's REST endpoints and its Server-Sent Events completion stream
(kimi.moonshot.cn, as kimi-free-api spoke it). See ``kimi-protocol.md``, "Generation A".

Kimi's ``error`` event during an answer is mapped by the shared table in :mod:`.http`: an
overload message ("Kimi 现在有点累了…") becomes :class:`UpstreamUnavailable` (503, because the
fix is to try again later), anything else (e.g. a content-policy stop) :class:`UpstreamError` (502).
"""

from __future__ import annotations

import json
import logging
import re
import secrets
import threading
import time
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from typing import Any, BinaryIO

import requests
import sseclient

from ..errors import (
    KimiProxyError,
    NotFound,
    RateLimited,
    UpstreamError,
    UpstreamTimeout,
)
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
from .bodies import FileSlice
from .http import make_session, map_failure, origin_of, scrub, timeouts
from .streams import ResponseChunks
from .tokens import TokenCache, fingerprint, refresh_access_token
from .transport import Transport, parse_json

log = logging.getLogger(__name__)

DEFAULT_KIMIPLUS_ID = "kimi"
K1_KIMIPLUS_ID = "crm40ee9e5jvhsn7ptcg"
NEW_CHAT_NAME = "未命名会话"  # "untitled chat", what the web page names a new chat
PARSE_PROCESS_TIMEOUT_MS = 120000
FILE_READY = ("initialized", "parsed")

# RFC 3986 characters only, so a URL ends at whitespace, CJK text, quotes or angle brackets;
# the lookbehind leaves URLs that are already wrapped alone.
_URL = re.compile(r"""(?<!wc="">)https?://[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]+""")
_URL_TRAILING = ".,;:!?'"


def wrap_urls(text: str) -> str:
    """Wrap each URL the way the web page does, so Kimi reads the page behind it."""

    def wrap(match: re.Match) -> str:
        url = match.group(0)
        stripped = url.rstrip(_URL_TRAILING)
        # A closing parenthesis belongs to the URL only if the URL opened one.
        while stripped.endswith(")") and stripped.count(")") > stripped.count("("):
            stripped = stripped[:-1].rstrip(_URL_TRAILING)
        rest = url[len(stripped) :]
        return f'<url id="" type="url" status="" title="" wc="">{stripped}</url>{rest}'

    return _URL.sub(wrap, text)


def kimiplus_id(model: ModelSpec) -> str:
    """An agent id wins; thinking uses the K1 "Kimi+" id; everything else plain ``kimi``."""
    if model.agent_id:
        return model.agent_id
    if model.thinking:
        return K1_KIMIPLUS_ID
    return DEFAULT_KIMIPLUS_ID


def refs_file_entry(file_object: dict) -> dict:
    """The ``refs_file`` item the web page sends for an uploaded, parsed file."""
    return {
        "id": file_object.get("id"),
        "name": file_object.get("name"),
        "size": file_object.get("size"),
        "file_info": file_object,
        "detail": file_object,
        "done": True,
        "file": {},
        "parse_status": "success",
        "upload_progress": 100,
        "upload_status": "success",
    }


def completion_body(turn: ChatTurn) -> dict:
    """The first completion request of a turn: ONE user message carrying the whole prompt."""
    model = turn.model
    body: dict[str, Any] = {
        "kimiplus_id": kimiplus_id(model),
        "messages": [{"role": "user", "content": wrap_urls(turn.prompt)}],
        "refs": [f.id for f in turn.files],
        "refs_file": [
            f.details or refs_file_entry({"id": f.id, "name": f.name, "size": f.size})
            for f in turn.files
        ],
        "use_search": model.search,
        "use_research": model.research,
        "use_math": model.math,
        "extend": {"sidebar": True},
    }
    if model.thinking and not model.agent_id:
        body["model"] = "k1"
    return body


def continuation_body(segment_id: str, model: ModelSpec) -> dict:
    """Ask Kimi to go on with an answer its output cap cut (after a ``length`` event)."""
    return {
        "segment_id": segment_id,
        "action": "continue",
        "messages": [{"role": "user", "content": " "}],
        "kimiplus_id": kimiplus_id(model),
        "extend": {"sidebar": True},
    }


@dataclass
class _AnswerState:
    segment_id: str | None = None
    message_id: str | None = None
    seen_urls: set[str] = field(default_factory=set)


class RestClient:
    """:class:`~kimiproxy.upstream.base.UpstreamClient` for generation A."""

    protocol = "rest"

    def __init__(self, config: dict, session: requests.Session | None = None):
        self._base = str(config["UPSTREAM"]).rstrip("/")
        self._origin = origin_of(self._base)
        self._timeout = timeouts(config)
        self._max_continuations = int(config["MAX_CONTINUATIONS"])
        self._parse_timeout = float(config["FILE_PARSE_TIMEOUT"])
        self.poll_interval = 1.0  # seconds between POST /api/file polls
        # Kimi ties a browser session to these ids; random per client, like a fresh browser tab.
        headers = {
            "X-Msh-Platform": "web",
            "X-Msh-Device-Id": str(7 * 10**18 + secrets.randbelow(10**18)),
            "X-Msh-Session-Id": str(17 * 10**17 + secrets.randbelow(10**17)),
            "R-Timezone": "Asia/Shanghai",
            "Origin": self._origin,
            "Referer": self._origin + "/",
        }
        if session is None:
            session = make_session(headers)
        else:
            session.headers.update(headers)
        self._session = session
        # Pre-signed upload URLs point at object storage, not Kimi: that session carries no Kimi
        # headers, so the token can never leak to a third-party host.
        self._storage = make_session()
        self.tokens = TokenCache(self._refresh, ttl=float(config["ACCESS_TOKEN_TTL"]))
        self._transport = Transport(self._session, self._base, self.tokens, self._timeout)
        self._traffic_ids: dict[str, str] = {}
        self._traffic_lock = threading.Lock()

    # -- public interface ---------------------------------------------------------------------

    def chat(self, turn: ChatTurn) -> Iterator[Event]:
        """Stream one turn; see :class:`~kimiproxy.upstream.base.UpstreamClient`."""
        if turn.model.research:
            self.check_research_quota(turn.credential)
        chat_id = turn.chat_id
        created = chat_id is None
        if created:
            chat_id = self.create_chat(turn.credential, turn.model)
            # Announce the chat before anything else can fail, so the caller can delete it.
            yield ChatStarted(chat_id)
        try:
            response = self._open_stream(turn.credential, chat_id, completion_body(turn))
        except KimiProxyError as error:
            if not created:
                raise
            yield UpstreamFailed(error)
            return
        if not created:
            yield ChatStarted(chat_id)
        yield from self._answer(turn, chat_id, response)

    def create_chat(self, credential: str, model: ModelSpec) -> str:
        """``POST /api/chat`` → the new chat's id."""
        body = {
            "enter_method": "new_chat",
            "is_example": False,
            "kimiplus_id": kimiplus_id(model),
            "name": NEW_CHAT_NAME,
        }
        answer = self._json(credential, "POST", "/api/chat", json=body)
        chat_id = answer.get("id") if isinstance(answer, dict) else None
        if not isinstance(chat_id, str) or not chat_id:
            raise UpstreamError("Kimi created a chat but did not say its id")
        return chat_id

    def delete_chat(self, credential: str, chat_id: str) -> None:
        """``DELETE /api/chat/<id>``; a chat that is already gone is fine."""
        try:
            response = self._send(credential, "DELETE", f"/api/chat/{chat_id}", allow_status=(404,))
        except NotFound:
            return
        response.close()

    def check_research_quota(self, credential: str) -> None:
        """Refuse a research turn when the account has used all its research answers."""
        usage = self._json(credential, "GET", "/api/chat/research/usage")
        if not isinstance(usage, dict):
            return
        used, total = usage.get("used"), usage.get("total")
        if isinstance(used, (int, float)) and isinstance(total, (int, float)) and used >= total:
            raise RateLimited(
                f"This Kimi account has used all of its research answers ({used:g} of "
                f"{total:g}); try again later or use a model without research",
                code="research_quota_exhausted",
            )

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
        """Pre-sign, PUT the bytes, wait for Kimi to take the file, let it parse; see base."""
        deadline = time.monotonic() + self._parse_timeout
        signed = self._json(
            credential, "POST", "/api/pre-sign-url", json={"action": kind, "name": name}
        )
        url = signed.get("url") if isinstance(signed, dict) else None
        if not isinstance(url, str) or not url:
            raise UpstreamError(f'Kimi gave no upload address for "{name}"')
        self._put_object(url, name, mime_type, FileSlice(body, size))
        file_object = self._wait_until_taken(credential, name, kind, signed, chat_id, deadline)
        if file_object.get("status") != "parsed":
            self._wait_until_parsed(credential, name, file_object["id"], deadline)
        return UploadedFile(
            id=str(file_object["id"]),
            name=name,
            size=size,
            mime_type=mime_type,
            kind=kind,
            details=refs_file_entry(file_object),
        )

    def close(self) -> None:
        self._session.close()
        self._storage.close()

    # -- the answer stream --------------------------------------------------------------------

    def _open_stream(self, credential: str, chat_id: str, body: dict) -> requests.Response:
        response = self._send(
            credential,
            "POST",
            f"/api/chat/{chat_id}/completion/stream",
            json=body,
            stream=True,
            headers={"Referer": f"{self._origin}/chat/{chat_id}", "Accept": "text/event-stream"},
        )
        content_type = response.headers.get("Content-Type", "")
        if "json" in content_type:
            # kimi-free-api saw Kimi answer 200 with an error object instead of a stream.
            answer = parse_json(response, "the completion request")
            fields = answer if isinstance(answer, dict) else {}
            raise map_failure(
                kind=fields.get("error_type"),
                message=fields.get("message") or "Kimi did not answer with an event stream",
                secrets=(credential,),
            )
        return response

    def _answer(
        self, turn: ChatTurn, chat_id: str, response: requests.Response
    ) -> Generator[Event, None, None]:
        state = _AnswerState()
        continuations = 0
        while True:
            try:
                outcome = yield from self._segment(response, state)
            finally:
                response.close()
            if outcome != "length":
                if outcome == "stop":
                    yield Finished("stop")
                return
            if continuations >= self._max_continuations or not state.segment_id:
                yield Finished("length")
                return
            continuations += 1
            log.debug("continuing chat %s after a length cut (%d)", chat_id, continuations)
            body = continuation_body(state.segment_id, turn.model)
            try:
                response = self._open_stream(turn.credential, chat_id, body)
            except KimiProxyError as error:
                yield UpstreamFailed(error)
                return

    def _segment(
        self, response: requests.Response, state: _AnswerState
    ) -> Generator[Event, None, str | None]:
        """Events of one completion stream. Returns ``"stop"`` or ``"length"``, or ``None`` after
        yielding :class:`UpstreamFailed`."""
        cut_by_length = False
        source = sseclient.SSEClient(ResponseChunks(response, self._timeout[1]))
        try:
            for message in source.events():
                try:
                    data = json.loads(message.data)
                except ValueError:
                    data = None
                if not isinstance(data, dict):
                    yield UpstreamFailed(UpstreamError("Kimi sent a malformed event"))
                    return None
                kind = data.get("event")
                if kind == "cmpl":
                    text = data.get("text")
                    if isinstance(text, str) and text:
                        yield TextDelta(text)
                elif kind == "k1":
                    text = data.get("text") or data.get("content")
                    if isinstance(text, str) and text:
                        yield ThinkingDelta(text)
                elif kind == "search_plus":
                    result = _search_result(data.get("msg"), state.seen_urls)
                    if result is not None:
                        yield result
                elif kind == "req":
                    state.segment_id = data.get("id") or state.segment_id
                elif kind == "resp":
                    state.message_id = data.get("id") or state.message_id
                elif kind == "length":
                    cut_by_length = True
                elif kind == "all_done":
                    return "length" if cut_by_length else "stop"
                elif kind == "error":
                    yield UpstreamFailed(_stream_error(data.get("error")))
                    return None
                # "done" can come mid-answer; debug, rename, ref_docs and the rest carry nothing
                # the caller needs.
        except UnicodeDecodeError:
            yield UpstreamFailed(UpstreamError("Kimi sent a malformed event"))
            return None
        except KimiProxyError as error:
            yield UpstreamFailed(error)
            return None
        if cut_by_length:
            return "length"
        yield UpstreamFailed(
            UpstreamError("Kimi stopped sending before the end: the answer was cut off")
        )
        return None

    # -- files --------------------------------------------------------------------------------

    def _put_object(self, url: str, name: str, mime_type: str, content: FileSlice) -> None:
        try:
            response = self._storage.put(
                url,
                data=content,
                headers={"Content-Type": mime_type or "application/octet-stream"},
                timeout=self._timeout,
            )
        except requests.RequestException as exc:
            raise map_failure(exception=exc, read_timeout=self._timeout[1]) from None
        with response:
            if response.status_code >= 400:
                raise UpstreamError(
                    f'Kimi\'s file storage refused "{name}" (HTTP {response.status_code})'
                )

    def _wait_until_taken(
        self,
        credential: str,
        name: str,
        kind: str,
        signed: dict,
        chat_id: str | None,
        deadline: float,
    ) -> dict:
        if kind == "image":
            body = {"type": "image", "file_id": signed.get("file_id"), "name": name}
        else:
            body = {
                "type": "file",
                "name": name,
                "object_name": signed.get("object_name"),
                "file_id": "",
                "chat_id": chat_id or "",
            }
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise self._parse_timeout_error(name)
            try:
                answer = self._json(
                    credential,
                    "POST",
                    "/api/file",
                    json=body,
                    timeout=(self._timeout[0], min(self._timeout[1], remaining)),
                )
            except UpstreamTimeout:
                raise self._parse_timeout_error(name) from None
            if not isinstance(answer, dict) or not answer.get("id"):
                raise UpstreamError(f'Kimi did not describe the uploaded file "{name}"')
            status = answer.get("status")
            if status in FILE_READY:
                return answer
            if status == "failed":
                raise UpstreamError(f'Kimi could not process the file "{name}"')
            time.sleep(max(0.0, min(self.poll_interval, deadline - time.monotonic())))

    def _wait_until_parsed(self, credential: str, name: str, file_id: str, deadline: float) -> None:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise self._parse_timeout_error(name)
        try:
            response = self._send(
                credential,
                "POST",
                "/api/file/parse_process",
                json={"ids": [file_id], "timeout": PARSE_PROCESS_TIMEOUT_MS},
                stream=True,
                timeout=(self._timeout[0], min(self._timeout[1], remaining)),
            )
        except UpstreamTimeout:
            raise self._parse_timeout_error(name) from None
        try:
            source = sseclient.SSEClient(ResponseChunks(response))
            for message in source.events():
                try:
                    data = json.loads(message.data)
                except ValueError:
                    continue
                info = data.get("file_info") if isinstance(data, dict) else None
                status = info.get("status") if isinstance(info, dict) else None
                if status == "parsed":
                    return
                if status == "failed":
                    raise UpstreamError(f'Kimi could not parse the file "{name}"')
                if time.monotonic() >= deadline:
                    raise self._parse_timeout_error(name)
        except UpstreamTimeout:
            raise self._parse_timeout_error(name) from None
        except UnicodeDecodeError:
            raise UpstreamError(f'Kimi sent a malformed parse status for "{name}"') from None
        finally:
            response.close()
        # Like kimi-free-api, a parse stream that ends without a verdict counts as done.

    def _parse_timeout_error(self, name: str) -> UpstreamTimeout:
        return UpstreamTimeout(f"Kimi did not finish parsing {name} in {self._parse_timeout:g} s")

    # -- plumbing -----------------------------------------------------------------------------

    def _refresh(self, refresh_token: str) -> str:
        return refresh_access_token(self._session, self._base, refresh_token, self._timeout)

    def _send(self, credential: str, method: str, path: str, **kwargs: Any) -> requests.Response:
        traffic_id = self._traffic_id(credential)
        if traffic_id:
            kwargs["headers"] = {"X-Traffic-Id": traffic_id, **(kwargs.get("headers") or {})}
        return self._transport.send(credential, method, path, **kwargs)

    def _json(self, credential: str, method: str, path: str, **kwargs: Any) -> Any:
        return parse_json(self._send(credential, method, path, **kwargs), f"{method} {path}")

    def _traffic_id(self, credential: str) -> str | None:
        """The account's user id (``GET /api/user``), sent as ``X-Traffic-Id``; cached."""
        traffic_id = self._traffic_ids.get(credential)
        if traffic_id:
            return traffic_id
        try:
            user = self._transport.json(credential, "GET", "/api/user")
        except RateLimited:
            raise
        except KimiProxyError as error:
            if error.status == 401:
                raise
            # Whether Kimi needs this header is unknown; an answer without it beats no answer.
            log.warning(
                "could not read the user id of credential %s: %s", fingerprint(credential), error
            )
            return None
        traffic_id = str(user.get("id") or "") if isinstance(user, dict) else ""
        if traffic_id:
            with self._traffic_lock:
                if len(self._traffic_ids) > 4096:
                    self._traffic_ids.clear()
                self._traffic_ids[credential] = traffic_id
        return traffic_id or None


def _search_result(msg: object, seen: set[str]) -> SearchResult | None:
    if not isinstance(msg, dict) or msg.get("type") != "get_res":
        return None
    url = str(msg.get("url") or "")
    if not url or url in seen:
        return None
    seen.add(url)
    return SearchResult(
        title=str(msg.get("title") or url),
        url=url,
        site_name=str(msg.get("site_name") or ""),
        snippet=str(msg.get("snippet") or ""),
        date=str(msg.get("date") or ""),
    )


def _stream_error(error: object) -> KimiProxyError:
    fields = error if isinstance(error, dict) else {}
    message = fields.get("message")
    mapped = map_failure(kind=fields.get("error_type"), message=message)
    if type(mapped) is UpstreamError:
        # Not an overload, auth or throttling: Kimi chose to stop (e.g. a content policy).
        said = scrub(str(message or ""))
        return UpstreamError(f"Kimi stopped the answer{': ' + said if said else ''}")
    return mapped
