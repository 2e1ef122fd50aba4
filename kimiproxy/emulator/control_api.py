"""The emulator's own control API under ``/_emulator`` (not part of Kimi)."""

from __future__ import annotations

from flask import Blueprint, jsonify

from kimiproxy.emulator.bodies import BodyError, request_json_object
from kimiproxy.emulator.faults import ALL_FAULTS
from kimiproxy.emulator.ids import new_id
from kimiproxy.emulator.options import OPTIONS
from kimiproxy.emulator.rotation import RefreshLedger
from kimiproxy.emulator.state import get_state
from kimiproxy.emulator.tokens import identity_for, make_access_token, make_refresh_token

bp = Blueprint("kimi_control", __name__, url_prefix="/_emulator")


@bp.get("/health")
def health():
    return jsonify(ok=True)


@bp.get("/calls")
def calls():
    return jsonify(calls=get_state().calls())


@bp.get("/chats")
def chats():
    return jsonify(chats=get_state().chats())


@bp.get("/files")
def files():
    return jsonify(files=get_state().files())


@bp.get("/streams")
def streams():
    return jsonify(streams=get_state().streams())


@bp.get("/stream_history")
def stream_history():
    return jsonify(streams=get_state().stream_history())


@bp.get("/refreshes")
def refreshes():
    """Every token refresh, oldest first, and how many of them raced another holder."""
    records = get_state().refreshes.records()
    conflicts = sum(1 for record in records if RefreshLedger.is_conflict(record))
    return jsonify(refreshes=records, conflicts=conflicts)


@bp.post("/tokens")
def mint_tokens():
    """A new login session: ``{"account": <id>}`` (optional; a fresh id otherwise) →
    ``{"account", "refreshToken", "accessToken"}``, the refresh token being the session's
    current one."""
    try:
        body = request_json_object(empty={})
    except BodyError as exc:
        return jsonify(error=str(exc)), 400
    account = body.get("account", new_id("u"))
    if not isinstance(account, str) or not account:
        return jsonify(error="account must be a non-empty string"), 400
    state = get_state()
    identity = identity_for(new_id("s"), account)
    refresh = make_refresh_token(identity)
    state.refreshes.register(refresh, identity)
    access = make_access_token(identity, int(state.options["access_ttl"]))
    state.token_book.note(refresh, access)
    return jsonify(account=account, refreshToken=refresh, accessToken=access)


@bp.get("/tokens")
def issued_tokens():
    """Every token the emulator issued or was shown since it started, reset or not, for tests
    that check their logs carry none."""
    return jsonify(tokens=get_state().token_book.tokens())


@bp.get("/faults")
def queued_faults():
    return jsonify(faults=get_state().queued_faults())


@bp.post("/faults")
def queue_fault():
    try:
        body = request_json_object(empty={})
    except BodyError:
        body = {}
    name, times = body.get("fault"), body.get("times", 1)
    if name not in ALL_FAULTS:
        return jsonify(error=f"unknown fault {name!r}", known=sorted(ALL_FAULTS)), 400
    if not isinstance(times, int) or isinstance(times, bool) or times < 1:
        return jsonify(error="times must be a positive integer"), 400
    get_state().queue_fault(name, times)
    return jsonify(faults=get_state().queued_faults())


@bp.get("/options")
def options():
    return jsonify(options=get_state().options)


@bp.post("/options")
def set_options():
    """Change options of the running emulator, e.g. ``{"access_ttl": 2}``; ``/reset`` restores
    the ones it started with."""
    try:
        changes = request_json_object()
        options = get_state().set_options(changes)
    except ValueError as exc:  # BodyError is one too
        return jsonify(error=str(exc), known=list(OPTIONS)), 400
    return jsonify(options=options)


@bp.post("/reset")
def reset():
    get_state().reset()
    return jsonify({})
