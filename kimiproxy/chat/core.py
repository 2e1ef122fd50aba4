"""The chat core: one chat request from account choice to cleanup, whatever the API surface.

A surface (the OpenAI chat-completions route, later others and the command line) parses its
request into a :class:`~kimiproxy.chat.request.ChatRequest`, calls :meth:`ChatCore.open`, then
iterates :meth:`ChatAnswer.deltas` (a stream) or calls :meth:`ChatAnswer.collect` (a whole
answer), and serialises what it gets. The core owns the lifecycle: one generator opens the
attempt, consumes the answer and, in its one ``finally``, closes the upstream stream, releases
the account and runs the ``kimiproxy_cleanup`` hook — exactly once, on success, on an error, when
the client disconnects, and when the answer is abandoned unread.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, nullcontext
from typing import TYPE_CHECKING

from kimiproxy.chat.accounts import AccountRotation
from kimiproxy.chat.assembly import AnswerAssembly
from kimiproxy.chat.context import AnswerMessage, ChatContext, Delta
from kimiproxy.chat.prompt import build_prompt
from kimiproxy.chat.usage import usage_for
from kimiproxy.errors import ClientDisconnected, InternalError, KimiProxyError, UpstreamError
from kimiproxy.upstream import ChatTurn
from kimiproxy.upstream.events import ChatStarted, Event, UpstreamFailed

if TYPE_CHECKING:
    import pluggy

    from kimiproxy.chat.health import AccountHealth
    from kimiproxy.chat.leases import AccountLeases
    from kimiproxy.chat.request import ChatRequest
    from kimiproxy.settings import Settings
    from kimiproxy.upstream import UpstreamClient

log = logging.getLogger(__name__)
_READY = object()  # what the lifecycle yields once Kimi produced its first output


class ChatCore:
    """What every surface shares: the plugins, the settings, the upstream client, the leases."""

    def __init__(
        self,
        pm: pluggy.PluginManager,
        settings: Settings,
        client: UpstreamClient,
        leases: AccountLeases,
        health: AccountHealth,
    ):
        self.pm = pm
        self.settings = settings
        self.client = client
        self.leases = leases
        self.health = health

    def open(
        self,
        request: ChatRequest,
        credentials: list[str],
        streaming: bool,
        interruptible: Callable[[], AbstractContextManager] = nullcontext,
    ) -> ChatAnswer:
        """Start the answer; returns once Kimi produced output, so every failure up to then is
        raised here as a :class:`~kimiproxy.errors.KimiProxyError` (cleanup already done).

        ``interruptible()`` wraps each wait the answer makes (for an account, for Kimi's next
        event): a surface that watches its client passes one that raises
        :class:`~kimiproxy.errors.ClientDisconnected` there, so the answer is abandoned at a
        point where nothing is half done. Cleanup itself is never interrupted.
        """
        answer = ChatAnswer(self, request, credentials, streaming, interruptible)
        next(answer._lifecycle)
        return answer

    def ask(self, request: ChatRequest, credentials: list[str]) -> ChatAnswer:
        """The whole answer at once (``answer.message``, ``answer.usage``)."""
        answer = self.open(request, credentials, streaming=False)
        answer.collect()
        return answer


class ChatAnswer:
    """One request's answer. Drive it with :meth:`deltas` or :meth:`collect`; :meth:`close`
    abandons it (the client left)."""

    def __init__(
        self,
        core: ChatCore,
        request: ChatRequest,
        credentials: list[str],
        streaming: bool,
        interruptible: Callable[[], AbstractContextManager] = nullcontext,
    ):
        self.core = core
        self.interruptible = interruptible
        self.request = request
        self.context = ChatContext(
            settings=core.settings, client=core.client, request=request, credentials=credentials
        )
        self.accounts = AccountRotation(
            core.pm,
            core.leases,
            core.health,
            self.context,
            wait_seconds=core.settings.account_wait,
            max_attempts=core.settings.max_attempts,
            interruptible=interruptible,
        )
        self.assembly = AnswerAssembly(core.pm, self.context, streaming)
        self.usage: dict | None = None
        self.error: KimiProxyError | None = None
        self.finished = False
        self._events: Iterator[Event] | None = None
        self._first: list[Event] = []
        self._lifecycle = self._run()

    @property
    def message(self) -> AnswerMessage:
        return self.assembly.message

    @property
    def conversation_id(self) -> str | None:
        """The upstream chat the client may continue, when it asked to keep it."""
        return self.context.chat_id if self.context.keep_chat else None

    # -- driving ------------------------------------------------------------------------------
    def deltas(self) -> Iterator[Delta]:
        """The post-processed pieces of a streamed answer; cleanup has run when this ends,
        whether it ends normally or by raising, and closing it abandons the answer."""
        return self._lifecycle

    def collect(self) -> AnswerMessage:
        """Consume the rest of the answer; returns the assembled message."""
        for _ in self.deltas():
            pass
        return self.message

    def close(self) -> None:
        """Abandon the answer: if it was not finished, its client left. Idempotent."""
        self._lifecycle.close()

    # -- the lifecycle ------------------------------------------------------------------------
    def _run(self) -> Iterator:
        error: KimiProxyError | None = None
        try:
            self.accounts.run(self._attempt)
            yield _READY
            first, self._first = self._first, []
            yield from self.assembly.run(_chain(first, self._events))
            message = self.message
            self.usage = usage_for(self.context.prompt, message.text + message.reasoning_content)
        except (GeneratorExit, ClientDisconnected):
            self.context.client_disconnected = True
            log.info("request %s: client disconnected", self.context.request_id)
            raise
        except KimiProxyError as exc:
            error = exc
            raise
        except Exception as exc:
            log.exception("request %s: unexpected failure", self.context.request_id)
            error = InternalError()
            raise error from exc
        finally:
            self._finish(error)

    def _attempt(self) -> None:
        """One try on the leased account: prepare the turn and read up to Kimi's first output."""
        context, request = self.context, self.request
        context.chat_id = None
        context.files = []
        self._first = []
        context.prompt = build_prompt(request)
        try:
            self.core.pm.hook.kimiproxy_prepare_request(request=request, context=context)
            existing_chat = context.chat_id or request.conversation_id
            turn = ChatTurn(
                credential=context.credential,
                prompt=context.prompt,
                model=request.model,
                chat_id=existing_chat,
                files=list(context.files),
                has_files=bool(context.files),
            )
            self._events = _interruptible(context.client.chat(turn), self.interruptible)
            for event in self._events:
                self._first.append(event)
                if isinstance(event, ChatStarted):
                    if existing_chat is None:
                        context.chat_created(event.chat_id)
                    else:
                        context.chat_id = event.chat_id
                elif isinstance(event, UpstreamFailed):
                    raise event.error
                else:
                    return
            raise UpstreamError("Kimi ended the answer before sending anything")
        except BaseException:
            self._close_events()
            raise

    def _close_events(self) -> None:
        events, self._events = self._events, None
        close = getattr(events, "close", None)
        if close is not None:
            try:
                close()
            except Exception:  # closing a broken upstream stream must not mask the real error
                log.debug("closing the upstream stream failed", exc_info=True)

    def _finish(self, error: KimiProxyError | None) -> None:
        self.finished = True
        self.error = error
        try:
            self._close_events()
        finally:
            self.accounts.release()
        self._cleanup(error)

    def _cleanup(self, error: KimiProxyError | None) -> None:
        """Every ``kimiproxy_cleanup`` implementation, each on its own: one that raises is
        logged and does not keep the others (the chat deletion among them) from running."""
        arguments = {"context": self.context, "error": error}
        # pluggy calls the newest-registered first; keep its order.
        for implementation in reversed(self.core.pm.hook.kimiproxy_cleanup.get_hookimpls()):
            try:
                implementation.function(*(arguments[name] for name in implementation.argnames))
            except Exception:  # a cleanup plugin failing must not turn an answer into an error
                log.exception(
                    "request %s: the cleanup hook of %s failed",
                    self.context.request_id,
                    implementation.plugin_name,
                )


def _interruptible(
    events: Iterable[Event], interruptible: Callable[[], AbstractContextManager]
) -> Iterator[Event]:
    """``events``, each wait for the next one inside ``interruptible()``; closing this closes
    the upstream stream."""
    iterator = iter(events)
    try:
        while True:
            with interruptible():
                event = next(iterator, None)
            if event is None:
                return
            yield event
    finally:
        close = getattr(iterator, "close", None)
        if close is not None:
            close()


def _chain(first: list[Event], rest: Iterator[Event] | None) -> Iterator[Event]:
    yield from first
    if rest is not None:
        yield from rest
