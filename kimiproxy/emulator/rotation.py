"""Refresh-token rotation: which refresh tokens are current, which were rotated out, which are
being refreshed right now, and a record of every refresh for the control API.

A refresh token belongs to a login session of an account. A session has one current refresh
token: rotating it mints the next one and retires the old one for good. A refresh token the
emulator has never seen, and would accept (see ``tokens.check_refresh_token``), starts a new
session of its account the first time it is used; one it has rotated out is refused. Tokens are
kept only in memory and shown only as fingerprints.
"""

from __future__ import annotations

import copy
import hashlib
import itertools
import threading
from dataclasses import dataclass

from kimiproxy.emulator.tokens import (
    Identity,
    fingerprint,
    identity_for,
    make_refresh_token,
)

# What a refresh came to, as the record shows it.
ROTATED = "rotated"  # a new refresh token was issued; the one given is retired
KEPT = "kept"  # a new access token only; the refresh token given stays valid
GRACE = "grace"  # a retired token accepted once more within the grace window
CONFLICT = "conflict"  # refused: the token was retired, or another refresh of it was running
REFUSED = "refused"  # refused for another reason (not a refresh token, expired, a fault)
_GO = "go"


def _key(token: str) -> str:
    """How the ledger files a token: its whole SHA-256 (the record shows only a fingerprint)."""
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass
class _Session:
    identity: Identity
    current: str  # the session's current refresh token
    token_field: bool  # the GET endpoint answers {"token": ...} for this session


@dataclass
class _Known:
    session: int
    retired_at: float | None = None
    grace_used: bool = False


@dataclass
class _Flight:
    count: int = 0
    rotating: bool = False


@dataclass
class Attempt:
    """A refresh between :meth:`RefreshLedger.begin` and :meth:`RefreshLedger.finish`."""

    record: dict
    token: str
    session: int | None
    decision: str  # _GO, GRACE or CONFLICT
    rotate: bool


@dataclass(frozen=True)
class Grant:
    """What a successful refresh hands out besides the new access token."""

    identity: Identity
    refresh_token: str
    token_field: bool


class RefreshLedger:
    """Sessions, known refresh tokens and the refresh record, behind their own lock."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._session_numbers = itertools.count(1)
        self._record_numbers = itertools.count(1)
        self._sessions: dict[int, _Session] = {}
        self._known: dict[str, _Known] = {}  # by _key(token)
        self._flights: dict[str, _Flight] = {}  # by _key(token)
        self._records: list[dict] = []

    def register(self, token: str, identity: Identity, token_field: bool = False) -> None:
        """Make ``token`` the current refresh token of a new session of ``identity``."""
        with self._lock:
            self._register(token, identity, token_field)

    def _register(self, token: str, identity: Identity, token_field: bool) -> int:
        number = next(self._session_numbers)
        self._sessions[number] = _Session(identity, token, token_field)
        self._known[_key(token)] = _Known(number)
        return number

    def begin(
        self,
        token: str,
        account: str,
        *,
        path: str,
        rotate: bool,
        grace: float,
        now: float,
        token_field: bool = False,
    ) -> Attempt:
        """Start a refresh of ``token`` (already checked to be a refresh token of ``account``)
        and decide whether it may go ahead. ``rotate`` says whether it would retire the token;
        ``grace`` is how long (seconds) a retired token is accepted once more."""
        key = _key(token)
        with self._lock:
            record = self._new_record(path, account, fingerprint(token), now)
            flight = self._flights.get(key)
            known = self._known.get(key)
            if known is None:
                session = self._register(token, identity_for(token, account), token_field)
            else:
                session = known.session
            record["session"] = self._sessions[session].identity.session_id
            if flight is not None and flight.count:
                record["overlap"] = True
                if flight.rotating or rotate:
                    return self._conflict(record, token, session, "another refresh is running")
            if known is not None and known.retired_at is not None:
                if grace > 0 and not known.grace_used and now - known.retired_at <= grace:
                    known.grace_used = True
                    return Attempt(record, token, session, GRACE, rotate)
                return self._conflict(record, token, session, "the token was rotated out")
            flight = self._flights.setdefault(key, _Flight())
            flight.count += 1
            flight.rotating = flight.rotating or rotate
            return Attempt(record, token, session, _GO, rotate)

    def finish(self, attempt: Attempt, now: float) -> Grant | None:
        """Complete ``attempt``: the tokens to hand out, or ``None`` when it was a conflict."""
        record = attempt.record
        with self._lock:
            record["finished_at"] = now
            if attempt.decision == CONFLICT:
                return None
            session = self._sessions[attempt.session]
            if attempt.decision == GRACE:
                record.update(outcome=GRACE, status=200, reason="grace window")
                record["new_token"] = fingerprint(session.current)
                return Grant(session.identity, session.current, session.token_field)
            key = _key(attempt.token)
            flight = self._flights[key]
            flight.count -= 1
            if not flight.count:
                del self._flights[key]
            if attempt.rotate:
                self._known[key].retired_at = now
                session.current = make_refresh_token(session.identity, now)
                self._known[_key(session.current)] = _Known(attempt.session)
                record.update(outcome=ROTATED, status=200, new_token=fingerprint(session.current))
            else:
                record.update(outcome=KEPT, status=200, new_token=record["token"])
            return Grant(session.identity, session.current, session.token_field)

    def refuse(
        self,
        *,
        path: str,
        token: str,
        account: str | None,
        reason: str,
        status: int,
        started: float,
        finished: float,
        fault: str | None = None,
    ) -> None:
        """Record a refresh refused before the ledger was consulted (a bad token, a fault)."""
        with self._lock:
            record = self._new_record(path, account, fingerprint(token), started)
            record.update(outcome=REFUSED, status=status, reason=reason, fault=fault)
            record["finished_at"] = finished

    def records(self) -> list[dict]:
        with self._lock:
            return copy.deepcopy(self._records)

    @staticmethod
    def is_conflict(record: dict) -> bool:
        """A refresh that raced another holder of its token: a conflict, a grace acceptance, or
        a refresh that ran while another refresh of the same token was running."""
        return record["outcome"] in (CONFLICT, GRACE) or record["overlap"]

    def _new_record(self, path: str, account: str | None, shown: str, now: float) -> dict:
        record = {
            "id": next(self._record_numbers),
            "path": path,
            "account": account,
            "session": None,
            "token": shown,
            "new_token": None,
            "outcome": None,
            "status": None,
            "reason": None,
            "fault": None,
            "overlap": False,
            "started_at": now,
            "finished_at": None,
        }
        self._records.append(record)
        return record

    def _conflict(self, record: dict, token: str, session: int, reason: str) -> Attempt:
        record.update(outcome=CONFLICT, status=401, reason=reason)
        return Attempt(record, token, session, CONFLICT, False)
