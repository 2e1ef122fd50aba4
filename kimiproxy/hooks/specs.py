"""The hooks a chat request flows through. Each spec's docstring is its contract.

Implement them with ``from kimiproxy import hookimpl``; pluggy passes only the arguments an
implementation names, so specs may gain parameters without breaking plugins.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from flask import Flask

    from kimiproxy.chat.context import AnswerMessage, ChatContext, Delta
    from kimiproxy.chat.leases import AccountLeases
    from kimiproxy.chat.request import ChatRequest
    from kimiproxy.errors import KimiProxyError
    from kimiproxy.settings import Settings

hookspec = pluggy.HookspecMarker("kimiproxy")


@hookspec(firstresult=True)
def kimiproxy_select_credential(
    credentials: list[str],
    excluded: set[str],
    request: ChatRequest,
    context: ChatContext,
    leases: AccountLeases,
) -> str | None:
    """Choose the account to answer ``request`` with.

    ``credentials`` name the request's accounts in the order given: the caller's Kimi tokens
    (refresh tokens or access JWTs), or ``pool:<fingerprint>`` for the operator's server-held
    accounts. ``excluded`` are those that already failed for this request, are unhealthy
    (dead, cooling down) or are busy answering other requests, and must not be chosen.
    ``leases`` tells how busy each one is across the deployment (``leases.in_flight(c)``) and
    when this process last leased it (``leases.last_started(c)``). Return one credential, or
    ``None`` to let the next implementation decide (when every implementation says ``None``
    while some are busy, the request waits for one to come free). A credential that is
    excluded or not in ``credentials`` counts as no choice, and the implementations after it
    are not asked: return ``None`` instead. Asked once per attempt, and again each time an
    account comes free while the request waits. Keep it quick. Stops at the first non-None
    result; the built-in strategies answer last, each only when ``KIMIPROXY_STRATEGY`` names
    it (``context.settings.strategy``).
    """


@hookspec
def kimiproxy_selection_strategies() -> list[str]:
    """Name the account selection strategies a plugin provides; every implementation runs.

    ``KIMIPROXY_STRATEGY`` must be one of the names some loaded plugin returns, or the start
    stops with a line naming the variable. The plugin's ``kimiproxy_select_credential`` then
    chooses when ``context.settings.strategy`` is one of its names and returns ``None``
    otherwise. Names are lower-case words joined by hyphens (``round-robin``); the built-ins
    are ``random``, ``round-robin`` and ``least-busy`` (``trylast``), and a plugin that names
    one of them, its selection not ``trylast``, answers before the built-in, replacing it.
    """


@hookspec
def kimiproxy_prepare_request(request: ChatRequest, context: ChatContext) -> None:
    """Prepare the turn before it goes upstream; every implementation runs.

    May change ``context.prompt`` (the merged text sent to Kimi), append to ``context.files``
    (:class:`kimiproxy.upstream.events.UploadedFile` already uploaded with ``context.client``),
    or create the upstream chat early with ``context.ensure_chat()``. Runs once per attempt:
    when an account fails before any output and another is tried, ``context.prompt``,
    ``context.files`` and ``context.chat_id`` are reset and it runs again with the new
    ``context.credential``. Raise a :class:`kimiproxy.errors.KimiProxyError` to refuse the
    request with that error (any other exception is a 500 ``internal_error``); cleanup still
    runs.
    """


@hookspec
def kimiproxy_process_delta(delta: Delta, context: ChatContext) -> None:
    """Rewrite one piece of output before a streaming client gets it; every implementation runs.

    ``delta.kind`` is ``content``, ``reasoning`` or ``citation``; set ``delta.text`` to change it,
    to ``""`` to drop it. A ``citation`` delta starts with no text and carries
    ``delta.search_result`` (the ``delta.number``-th of the answer); the built-in ``citations``
    plugin renders it first. Only streamed requests have deltas. Runs on the hot path: keep it
    cheap. An exception ends the stream with an error event.
    """


@hookspec
def kimiproxy_process_message(message: AnswerMessage, context: ChatContext) -> None:
    """Rewrite the complete answer once it is assembled; every implementation runs.

    For a non-streamed request, changes to ``message.content`` and ``message.reasoning_content``
    (or a ``message.citations`` block) are what the client receives. For a streamed request the
    text deltas have already been sent, so text changes no longer reach the client, but
    ``message.tool_calls``, ``message.finish_reason`` and the search results set here still do:
    they go out in the final chunk, after this hook. An exception fails the request (a 500
    ``internal_error`` unless it is a :class:`kimiproxy.errors.KimiProxyError`).
    """


@hookspec
def kimiproxy_cleanup(context: ChatContext, error: KimiProxyError | None) -> None:
    """Release what the request created upstream; every implementation runs.

    Called exactly once per chat request after the answer: also when the client disconnected
    (``context.client_disconnected``) or an error happened (``error``, what the client is told).
    Must not raise: each implementation is called on its own, so an exception is logged and the
    others (``chat_cleanup`` among them) still run.
    """


@hookspec
def kimiproxy_register_routes(app: Flask, settings: Settings) -> None:
    """Add routes or blueprints to the Flask app while ``create_app`` builds it; every
    implementation runs, after the built-in routes are registered and before
    ``kimiproxy_startup``. Add new paths only: the built-in ones must not be replaced."""


@hookspec
def kimiproxy_startup(app: Flask, settings: Settings) -> None:
    """Start-up work once the app is built and its routes registered: add middleware
    (``app.before_request``/``after_request``), check a plugin's own settings, open resources.
    Every implementation runs; raise :class:`kimiproxy.settings.SettingsError` (or
    ``ValueError``) to stop the start with a message naming the problem. It runs once per app
    built: ``kimiproxy serve`` builds one to check before anything listens, then each gunicorn
    worker builds its own, so it must be safe to run several times, in several processes.
    """
