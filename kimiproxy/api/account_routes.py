"""The account endpoints, for operators (``KIMIPROXY_OPERATOR_KEYS``):

- ``GET /v1/accounts``: every account the store holds (``?source=pool`` or ``client`` for one
  kind), its health and counters, never a token;
- ``POST /v1/accounts`` ``{"token": "...", "label": "..."}``: add a server-held account (201);
  a token whose account exists answers 200 with it, and makes it a server-held one kept until it
  is deleted;
- ``DELETE /v1/accounts/{fingerprint}``: remove an account (404 when there is none).
"""

from __future__ import annotations

from flask import Blueprint, jsonify, request

from kimiproxy.accounts import Account
from kimiproxy.accounts.directory import is_pool_credential
from kimiproxy.accounts.records import SOURCES
from kimiproxy.api.access import operator_route
from kimiproxy.api.json_body import read_json_body
from kimiproxy.api.state import proxy_state
from kimiproxy.errors import InvalidRequest, NotFound
from kimiproxy.pool.importer import add_from_api, forget, origin_of
from kimiproxy.settings import TOKEN_SHAPE

bp = Blueprint("accounts", __name__)
MAX_LABEL = 64
_FIELDS = {"token", "label"}


def describe(account: Account, in_flight: int, origin: str | None) -> dict:
    """What the endpoints show of an account: everything but its tokens."""
    error = None
    if account.last_error_kind:
        error = {"kind": account.last_error_kind, "at": account.last_error_at}
    return {
        "object": "account",
        "fingerprint": account.fingerprint,
        "label": account.label,
        "source": account.source,
        "origin": origin,
        "state": account.state,
        "usable": account.usable(),
        "in_flight": in_flight,
        "cooldown_until": account.cooldown_until,
        "last_error": error,
        "requests": account.requests,
        "failures": account.failures,
        "quota": account.quota,
        "created_at": account.created_at,
        "updated_at": account.updated_at,
    }


def _shown(account: Account) -> dict:
    store = proxy_state().store
    fp = account.fingerprint
    return describe(account, store.in_flight(fp), origin_of(store, fp))


@bp.get("/v1/accounts")
@operator_route
def list_accounts():
    source = request.args.get("source") or None
    if source is not None and source not in SOURCES:
        raise InvalidRequest(
            f"source is one of {', '.join(SOURCES)}", param="source", code="invalid_source"
        )
    accounts = proxy_state().store.list_accounts(source=source)
    return jsonify({"object": "list", "data": [_shown(account) for account in accounts]})


def _new_account_fields() -> tuple[str, str | None]:
    body = read_json_body()
    if not isinstance(body, dict):
        raise InvalidRequest('send {"token": "<Kimi refresh token>", "label": "<name>"}')
    unknown = sorted(set(body) - _FIELDS)
    if unknown:
        raise InvalidRequest(f"unknown field {unknown[0]!r}", param=unknown[0])
    token = body.get("token")
    if not isinstance(token, str) or not TOKEN_SHAPE.match(token.strip()):
        raise InvalidRequest(
            "token: a Kimi refresh token or access token, printable ASCII without spaces",
            param="token",
        )
    if is_pool_credential(token.strip()):
        raise InvalidRequest("token: that is not a Kimi token", param="token")
    label = body.get("label")
    if label is not None and (
        not isinstance(label, str) or len(label) > MAX_LABEL or not label.isprintable()
    ):
        raise InvalidRequest(
            f"label: printable text of at most {MAX_LABEL} characters", param="label"
        )
    return token.strip(), label


@bp.post("/v1/accounts")
@operator_route
def add_account():
    token, label = _new_account_fields()
    store = proxy_state().store
    account_fp, created = add_from_api(store, token, label)
    account = store.get_account(account_fp)
    if account is None:  # deleted by someone else in between
        raise NotFound("the account was deleted while it was added", code="account_not_found")
    response = jsonify(_shown(account))
    response.status_code = 201 if created else 200
    return response


@bp.delete("/v1/accounts/<fingerprint>")
@operator_route
def delete_account(fingerprint: str):
    if not forget(proxy_state().store, fingerprint):
        raise NotFound("no account has that fingerprint", code="account_not_found")
    return jsonify({"object": "account", "fingerprint": fingerprint, "deleted": True})
