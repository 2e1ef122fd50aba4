"""The chat pipeline: choose a credential, prepare the turn, run it upstream, post-process the
answer and clean up — each step a pluggy hook, with the protocol client underneath."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from itertools import chain

import pluggy

from kimiproxy.chat.context import AnswerMessage, ChatContext, Delta
from kimiproxy.chat.leases import AccountLeases
from kimiproxy.chat.prompt import build_prompt
from kimiproxy.chat.request import ChatRequest
from kimiproxy.errors import (
    AuthenticationFailed,
    KimiProxyError,
    NotFound,
    RateLimited,
    UpstreamError,
    retryable_on_another_account,
)
from kimiproxy.tools import calling as tool_calling
from kimiproxy.tools.calling import ToolCallSniffer
from kimiproxy.upstream import ChatTurn, UpstreamClient
from kimiproxy.upstream.events import (
    ChatStarted,
    Event,
    Finished,
    SearchResult,
    TextDelta,
    ThinkingDelta,
    UpstreamFailed,
)

log = logging.getLogger(__name__)
BUSY_RETRY = 0.5  # seconds between asks while Kimi says the only account is busy


class ChatPipeline:
    """One chat request from credential choice to cleanup.

    ``open()`` starts the answer and returns only once Kimi produced output, so every failure up to
    then can still be an HTTP error (or a retry with another of the caller's accounts). Then
    ``stream()`` or ``collect()`` consume it; ``finish()`` runs the cleanup hook exactly once.
    """

    def __init__(
        self,
        pm: pluggy.PluginManager,
        config: dict,
        client: UpstreamClient,
        request: ChatRequest,
        credentials: list[str],
        leases: AccountLeases | None = None,
    ):
        self.pm = pm
        self.request = request
        self.context = ChatContext(
            config=config, client=client, request=request, credentials=credentials
        )
        self.message = AnswerMessage()
        self.leases = leases or AccountLeases(per_account=0)
        self._leased: str | None = None
        self._events: Iterator[Event] | None = None
        self._pending: list[Event] = []
        self._finished = False

    # -- starting -----------------------------------------------------------------------------
    def open(self) -> None:
        context = self.context
        excluded: set[str] = set()
        deadline = time.monotonic() + float(context.config["ACCOUNT_WAIT"])
        try:
            while True:
                context.credential = self._lease_account(excluded, deadline)
                try:
                    self._start_attempt()
                    return
                except KimiProxyError as error:
                    self._close_events()
                    self._release_account()
                    if self._retry_later(error, excluded, deadline):
                        continue
                    if not self._worth_another_account(error, excluded | {context.credential}):
                        raise
                    excluded.add(context.credential)
                    log.warning(
                        "request %s: account failed before output (%s), trying another",
                        context.request_id,
                        error.code,
                    )
        except KimiProxyError as error:
            self.finish(error)
            raise
        except BaseException:
            self.finish(UpstreamError("the request failed inside the proxy"))
            raise

    def _lease_account(self, excluded: set[str], deadline: float) -> str:
        """An account for this attempt, chosen by the credential hook among those neither failed
        nor answering another request, waiting for one to come free if all are busy."""
        context = self.context
        candidates = [c for c in context.credentials if c not in excluded]

        def choose(busy: set[str]) -> str | None:
            return self.pm.hook.kimiproxy_select_credential(
                credentials=list(context.credentials),
                excluded=excluded | busy,
                request=self.request,
                context=context,
            )

        credential = self.leases.acquire(candidates, choose, deadline) if candidates else None
        if credential is not None:
            self._leased = credential
            return credential
        if any(self.leases.busy(c) for c in candidates):
            raise RateLimited(
                "every Kimi account given is busy with another answer; try again shortly",
                code="account_busy",
                retry_after=5,
            )
        raise AuthenticationFailed("none of the Kimi tokens given could be used")

    def _release_account(self) -> None:
        leased, self._leased = self._leased, None
        if leased is not None:
            self.leases.release(leased)

    def _retry_later(self, error: KimiProxyError, excluded: set[str], deadline: float) -> bool:
        """Kimi says the account is still streaming (another worker, the user's browser, or an
        answer it has not noticed was abandoned): with no other account to try, wait a little
        and ask again, until the account wait runs out."""
        others = [
            c
            for c in self.context.credentials
            if c not in excluded and c != self.context.credential
        ]
        if error.code != "account_busy" or others or time.monotonic() + BUSY_RETRY >= deadline:
            return False
        time.sleep(BUSY_RETRY)
        return True

    def _worth_another_account(self, error: KimiProxyError, excluded: set[str]) -> bool:
        if not any(c not in excluded for c in self.context.credentials):
            return False
        if isinstance(error, NotFound) and self.request.conversation_id:
            return True  # the conversation may belong to another of the caller's accounts
        return retryable_on_another_account(error)

    def _start_attempt(self) -> None:
        context, request = self.context, self.request
        context.chat_id = None
        context.files = []
        self._pending = []
        context.prompt = build_prompt(request)
        self.pm.hook.kimiproxy_prepare_request(request=request, context=context)
        existing_chat = context.chat_id or request.conversation_id
        turn = ChatTurn(
            credential=context.credential,
            prompt=context.prompt,
            model=request.model,
            chat_id=existing_chat,
            files=list(context.files),
            has_files=bool(context.files),
        )
        self._events = context.client.chat(turn)
        for event in self._events:
            self._pending.append(event)
            if isinstance(event, ChatStarted):
                self._record_chat(event, created=existing_chat is None)
            elif isinstance(event, UpstreamFailed):
                raise event.error
            else:
                return
        raise UpstreamError("Kimi ended the answer before sending anything")

    def _record_chat(self, event: ChatStarted, created: bool) -> None:
        if created:
            self.context.chat_created(event.chat_id)
        else:
            self.context.chat_id = event.chat_id

    def _close_events(self) -> None:
        events, self._events = self._events, None
        close = getattr(events, "close", None)
        if close is not None:
            try:
                close()
            except Exception:  # closing a broken upstream stream must not mask the real error
                log.debug("closing the upstream stream failed", exc_info=True)

    # -- consuming ----------------------------------------------------------------------------
    def _events_in_order(self) -> Iterator[Event]:
        rest = self._events if self._events is not None else iter(())
        pending, self._pending = self._pending, []
        for event in chain(pending, rest):
            if isinstance(event, UpstreamFailed):
                raise event.error
            yield event
            if isinstance(event, Finished):
                return
        raise UpstreamError("Kimi's answer was cut off before it finished")

    def stream(self) -> Iterator[Delta]:
        """Post-processed deltas for a streaming client; citations arrive as their own deltas.
        When tools are offered, the start of the answer is held until it is clear whether it is
        a tool call; a call ends up in ``message.tool_calls`` instead of the text."""
        message = self.message
        sniffer = ToolCallSniffer(self.request.tools) if tool_calling.active(self.request) else None
        for event in self._events_in_order():
            if isinstance(event, TextDelta):
                text = sniffer.feed(event.text) if sniffer else event.text
                if text:
                    yield from self._emit(Delta("content", text))
            elif isinstance(event, ThinkingDelta):
                yield from self._emit(Delta("reasoning", event.text))
            elif isinstance(event, SearchResult):
                message.search_results.append(event)
                number = len(message.search_results)
                yield from self._emit(Delta("citation", "", search_result=event, number=number))
            elif isinstance(event, Finished):
                message.finish_reason = event.reason
            else:
                self._record_chat(event, created=False)
        if sniffer:
            held, calls = sniffer.finish()
            if calls:
                message.tool_calls, message.finish_reason = calls, "tool_calls"
            elif held:
                yield from self._emit(Delta("content", held))
        self.pm.hook.kimiproxy_process_message(message=message, context=self.context)

    def _emit(self, delta: Delta) -> Iterator[Delta]:
        self.pm.hook.kimiproxy_process_delta(delta=delta, context=self.context)
        if not delta.text:
            return
        if delta.kind == "reasoning":
            self.message.reasoning_content += delta.text
        else:
            self.message.content += delta.text
        yield delta

    def collect(self) -> AnswerMessage:
        """The whole answer for a non-streaming client (plugins may add a citation block)."""
        message = self.message
        content, reasoning = [], []
        for event in self._events_in_order():
            if isinstance(event, TextDelta):
                content.append(event.text)
            elif isinstance(event, ThinkingDelta):
                reasoning.append(event.text)
            elif isinstance(event, SearchResult):
                message.search_results.append(event)
            elif isinstance(event, Finished):
                message.finish_reason = event.reason
        message.content = "".join(content)
        message.reasoning_content = "".join(reasoning)
        calls = None
        if tool_calling.active(self.request):
            calls = tool_calling.parse_tool_calls(message.content, self.request.tools)
        if calls:
            message.content, message.tool_calls, message.finish_reason = "", calls, "tool_calls"
        self.pm.hook.kimiproxy_process_message(message=message, context=self.context)
        return message

    # -- ending -------------------------------------------------------------------------------
    def finish(self, error: KimiProxyError | None) -> None:
        """Close the upstream stream and run the cleanup hook, once."""
        if self._finished:
            return
        self._finished = True
        try:
            self._close_events()
        finally:
            self._release_account()
        try:
            self.pm.hook.kimiproxy_cleanup(context=self.context, error=error)
        except Exception:  # a cleanup plugin failing must not turn an answer into an error
            log.exception("request %s: a cleanup hook failed", self.context.request_id)

    def abandon(self) -> None:
        """The response was closed: if the answer was not finished, its client left."""
        if not self._finished:
            self.context.client_disconnected = True
        self.finish(None)

    @property
    def completion_id(self) -> str:
        return self.context.chat_id or f"chatcmpl-{self.context.request_id}"

    def response_extras(self) -> dict:
        """kimiproxy's additions to the OpenAI body: citations and the chat to continue."""
        extra: dict = {}
        if self.message.search_results:
            extra["search_results"] = [r.to_dict() for r in self.message.search_results]
        if self.context.keep_chat and self.context.chat_id:
            extra["conversation_id"] = self.context.chat_id
        return extra
