"""Who may call which route.

With client keys configured (``KIMIPROXY_API_KEYS`` or ``KIMIPROXY_API_KEYS_FILE``), every
route asks for one (``Authorization: Bearer <key>``) before its view runs: the built-in ones,
those plugins add, and unknown paths alike. The exceptions are the views marked :func:`open_route`
(``/healthz``, ``/readyz``, ``/ping``), browsers' CORS preflight requests, which carry no
credentials, and the views marked :func:`operator_route` (the account endpoints), which ask for
an operator key instead (``KIMIPROXY_OPERATOR_KEYS``; without one they answer 403).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from flask import Flask, current_app, g, request

from kimiproxy.api.state import proxy_state
from kimiproxy.errors import AuthenticationFailed, PermissionDenied

View = TypeVar("View", bound=Callable)
_ACCESS = "kimiproxy_access"
OPEN, OPERATOR = "open", "operator"
_MISSING_API_KEY = "Missing API key: send 'Authorization: Bearer <API key>'"
_MISSING_OPERATOR_KEY = "Missing operator key: send 'Authorization: Bearer <operator key>'"


def open_route(view: View) -> View:
    """Mark a view anyone may call, key or not."""
    setattr(view, _ACCESS, OPEN)
    return view


def operator_route(view: View) -> View:
    """Mark a view only an operator key opens."""
    setattr(view, _ACCESS, OPERATOR)
    return view


def presented_key(missing: str) -> str:
    """The bearer value of the request, or a 401 with the message ``missing``."""
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise AuthenticationFailed(missing, code="missing_api_key")
    return value.strip()


def client_key_checked() -> bool:
    """Whether this request presented a valid client key."""
    return bool(g.get("kimiproxy_client_key"))


def _check_access() -> None:
    view = current_app.view_functions.get(request.endpoint or "")
    access = getattr(view, _ACCESS, None)
    if access == OPEN or request.method == "OPTIONS":
        return
    state = proxy_state()
    if access == OPERATOR:
        if not len(state.pool.operator_keys):
            raise PermissionDenied(
                "the account endpoints are off: set KIMIPROXY_OPERATOR_KEYS to open them",
                code="operator_keys_unset",
            )
        if not state.pool.operator_keys.matches(presented_key(_MISSING_OPERATOR_KEY)):
            raise AuthenticationFailed("Incorrect operator key provided")
        return
    if state.settings.server_held_accounts:
        if not state.pool.keys.matches(presented_key(_MISSING_API_KEY)):
            raise AuthenticationFailed("Incorrect API key provided")
        g.kimiproxy_client_key = True


def register_access_checks(app: Flask) -> None:
    app.before_request(_check_access)
