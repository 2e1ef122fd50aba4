"""``GET /healthz`` (the process is alive) and ``GET /readyz`` (it can answer chat requests),
for load balancers and orchestrators; both open to anyone, neither says more than counts."""

from __future__ import annotations

import time

from flask import Blueprint, jsonify

from kimiproxy.accounts import COOLING, DEAD, POOL, StoreError
from kimiproxy.api.access import open_route
from kimiproxy.api.state import proxy_state

bp = Blueprint("health", __name__)


@bp.get("/healthz")
@open_route
def healthz():
    return jsonify({"status": "ok"})


@bp.get("/readyz")
@open_route
def readyz():
    """200 when the account store answers and, with server-held accounts, one of them is
    usable; otherwise 503 saying what is missing."""
    state = proxy_state()
    try:
        state.store.ping()
        accounts = (
            state.store.list_accounts(source=POOL) if state.settings.server_held_accounts else None
        )
    except StoreError as error:
        unreachable = error.code == "store_unavailable"
        return _unready(
            {"store": "unreachable" if unreachable else "failing"},
            "the account store is unreachable" if unreachable else "the account store fails",
        )
    body: dict = {"store": "ok"}
    if accounts is None:
        return jsonify({"status": "ready", **body})
    now = time.time()
    usable = sum(account.usable(now) for account in accounts)
    body["accounts"] = {"pool": len(accounts), "usable": usable}
    if usable:
        return jsonify({"status": "ready", **body})
    if not accounts:
        return _unready(body, "no Kimi account in the server's pool")
    dead = sum(account.state == DEAD for account in accounts)
    cooling = sum(account.state == COOLING for account in accounts)
    return _unready(
        body, f"no usable Kimi account in the pool ({dead} dead, {cooling} cooling down)"
    )


def _unready(body: dict, reason: str):
    response = jsonify({"status": "unready", **body, "reason": reason})
    response.status_code = 503
    return response
