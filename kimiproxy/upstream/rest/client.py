"""The ``rest`` client: Kimi's REST endpoints and its Server-Sent Events completion stream
(kimi.moonshot.cn, as kimi-free-api spoke it). See ``docs/kimi-protocol.md``, "The rest protocol".

This module runs a turn: create the chat, open the completion stream, continue the answer after
a ``length`` cut. The request bodies are in :mod:`kimiproxy.upstream.rest.bodies`, the stream's
events in :mod:`kimiproxy.upstream.rest.events`, the upload flow in
:mod:`kimiproxy.upstream.rest.files`.
"""

from __future__ import annotations

import logging
from collections.abc import Generator, Iterator
from typing import TYPE_CHECKING, BinaryIO
from urllib.parse import quote

import requests

from kimiproxy.accounts import StoreError
from kimiproxy.errors import (
    AuthenticationFailed,
    KimiProxyError,
    NotFound,
    RateLimited,
    UpstreamError,
)
from kimiproxy.upstream.base import ChatTurn
from kimiproxy.upstream.events import ChatStarted, Event, Finished, UploadedFile, UpstreamFailed
from kimiproxy.upstream.failures import map_failure
from kimiproxy.upstream.keeper import open_directory
from kimiproxy.upstream.model_spec import ModelSpec
from kimiproxy.upstream.rest.api import RestApi
from kimiproxy.upstream.rest.bodies import completion_body, continuation_body, new_chat_body
from kimiproxy.upstream.rest.events import AnswerProgress, read_segment
from kimiproxy.upstream.rest.files import RestUploads
from kimiproxy.upstream.sessions import browser_session, origin_of, timeouts
from kimiproxy.upstream.transport import Transport, parse_json

if TYPE_CHECKING:
    from kimiproxy.accounts.directory import AccountDirectory
    from kimiproxy.settings import Settings

log = logging.getLogger(__name__)


class RestClient:
    """:class:`~kimiproxy.upstream.base.UpstreamClient` for ``rest``."""

    protocol = "rest"

    def __init__(
        self,
        settings: Settings,
        session: requests.Session | None = None,
        directory: AccountDirectory | None = None,
    ):
        base = settings.upstream_url
        self._origin = origin_of(base)
        self._timeout = timeouts(settings)
        self._max_continuations = settings.max_continuations
        self.poll_interval = 1.0  # seconds between POST /api/file polls
        self._session = browser_session(self._origin, session=session)
        self._directory = directory or open_directory(settings)
        self._owns_store = directory is None
        transport = Transport.refreshing_through(
            self._session, settings, self._directory, ttl=settings.access_token_ttl
        )
        self.tokens = transport.tokens
        self._api = RestApi(transport)
        self._uploads = RestUploads(self._api, self._timeout, settings.file_parse_timeout)

    # -- public interface ---------------------------------------------------------------------

    def chat(self, turn: ChatTurn) -> Iterator[Event]:
        """Stream one turn; see :class:`~kimiproxy.upstream.base.UpstreamClient`."""
        if turn.model.research:
            self.check_research_quota(turn.credential)
        if turn.chat_id is None:
            chat_id = self.create_chat(turn.credential, turn.model)
            # Announce the chat before anything else can fail, so the caller can delete it.
            yield ChatStarted(chat_id)
            try:
                response = self._open_stream(turn.credential, chat_id, completion_body(turn))
            except KimiProxyError as error:
                yield UpstreamFailed(error)
                return
        else:
            chat_id = turn.chat_id
            # Nothing is out yet, so a failure to open is raised (the pipeline may retry).
            response = self._open_stream(turn.credential, chat_id, completion_body(turn))
            try:
                yield ChatStarted(chat_id)
            except BaseException:
                # Closed right here, before _answer owns the stream: close it ourselves.
                response.close()
                raise
        yield from self._answer(turn, chat_id, response)

    def check_token(self, credential: str) -> bool:
        """``GET /api/user`` answers for a live account."""
        try:
            self._api.json(credential, "GET", "/api/user")
        except AuthenticationFailed:
            return False
        return True

    def create_chat(self, credential: str, model: ModelSpec) -> str:
        """``POST /api/chat`` → the new chat's id."""
        answer = self._api.json(credential, "POST", "/api/chat", json=new_chat_body(model))
        chat_id = answer.get("id") if isinstance(answer, dict) else None
        if not isinstance(chat_id, str) or not chat_id:
            raise UpstreamError("Kimi created a chat but did not say its id")
        return chat_id

    def delete_chat(self, credential: str, chat_id: str) -> None:
        """``DELETE /api/chat/<id>``; a chat that is already gone is fine."""
        try:
            response = self._api.send(
                credential, "DELETE", f"/api/chat/{quote(chat_id, safe='')}", allow_status=(404,)
            )
        except NotFound:
            return
        response.close()

    def _note_quota(self, credential: str, kind: str, usage: dict) -> None:
        """Keep what Kimi said of the account's quota, for ``GET /v1/accounts`` (best effort)."""
        numbers = {k: v for k, v in usage.items() if k in ("used", "total", "remain")}
        if not all(isinstance(v, (int, float)) for v in numbers.values()):
            return
        try:
            directory = self.tokens.directory
            account_fp = directory.account_of(credential)
            account = directory.store.get_account(account_fp)
            quota = dict((account.quota if account else None) or {})
            quota[kind] = numbers
            directory.store.upsert_account(account_fp, quota=quota)
        except StoreError:
            log.warning("could not note the research quota of an account")

    def check_research_quota(self, credential: str) -> None:
        """Refuse a research turn when the account has used all its research answers."""
        usage = self._api.json(credential, "GET", "/api/chat/research/usage")
        if not isinstance(usage, dict):
            return
        used, total = usage.get("used"), usage.get("total")
        self._note_quota(credential, "research", usage)
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
        return self._uploads.upload(
            credential, name, mime_type, body, size, kind, chat_id, poll_interval=self.poll_interval
        )

    def close(self) -> None:
        self._session.close()
        self._uploads.close()
        if self._owns_store:
            self._directory.store.close()

    # -- the answer stream --------------------------------------------------------------------

    def _open_stream(self, credential: str, chat_id: str, body: dict) -> requests.Response:
        response = self._api.send(
            credential,
            "POST",
            f"/api/chat/{quote(chat_id, safe='')}/completion/stream",
            json=body,
            stream=True,
            headers={
                "Referer": f"{self._origin}/chat/{quote(chat_id, safe='')}",
                "Accept": "text/event-stream",
            },
        )
        if "json" not in response.headers.get("Content-Type", ""):
            return response
        # kimi-free-api saw Kimi answer 200 with an error object instead of a stream.
        answer = parse_json(response, "the completion request")
        fields = answer if isinstance(answer, dict) else {}
        error = map_failure(
            kind=fields.get("error_type"),
            message=fields.get("message") or "Kimi did not answer with an event stream",
            secrets=self.tokens.secrets_for(credential),
        )
        if isinstance(error, AuthenticationFailed):
            # The transport saw a 200 and kept the token; drop it so the next call refreshes.
            self.tokens.invalidate(credential)
        raise error

    def _answer(
        self, turn: ChatTurn, chat_id: str, response: requests.Response
    ) -> Generator[Event, None, None]:
        progress = AnswerProgress()
        continuations = 0
        while True:
            try:
                outcome = yield from read_segment(
                    response,
                    progress,
                    read_timeout=self._timeout[1],
                    secrets=self.tokens.secrets_for(turn.credential),
                )
            finally:
                response.close()
            if outcome != "length":
                if outcome == "stop":
                    yield Finished("stop")
                return
            if continuations >= self._max_continuations or not progress.segment_id:
                yield Finished("length")
                return
            continuations += 1
            log.debug("continuing chat %s after a length cut (%d)", chat_id, continuations)
            body = continuation_body(progress.segment_id, turn.model)
            try:
                response = self._open_stream(turn.credential, chat_id, body)
            except KimiProxyError as error:
                yield UpstreamFailed(error)
                return
