"""The token keeper: tokens in the account store, the rotation written down before use, the
endpoint each account needs, proactive refresh, and one refresh per account everywhere."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests
import responses

from kimiproxy.accounts import StoreError, fingerprint, new_holder, open_store
from kimiproxy.accounts.directory import AccountDirectory, pool_credential
from kimiproxy.errors import AuthenticationFailed, UpstreamTimeout
from kimiproxy.upstream.keeper import TokenKeeper
from kimiproxy.upstream.refresh import ENDPOINT_NAMESPACE, LEGACY, ROTATING, RefreshCalls
from kimiproxy.upstream.sessions import make_session
from kimiproxy.upstream.tokens import jitter, token_expiry
from kimiproxy.upstream.transport import Transport

from .helpers import BASE, REFRESH_URL, make_jwt

AUTH = "https://auth.kimi.test"
ROTATING_URL = AUTH + "/api/account.gateway.v1.AuthService/RefreshToken"
REFRESH = "Hq3Lx9Vm2Kp7Wn4Tz8Rb1Cj6Df0Gs5Y"
ROOT = Path(__file__).resolve().parents[2]


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def state_dir(tmp_path):
    return str(tmp_path / "state")


@pytest.fixture
def directory(state_dir):
    store = open_store("", state_dir)
    yield AccountDirectory(store)
    store.close()


@pytest.fixture
def mock():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield rsps


def make_keeper(directory, *, margin=180.0, ttl=None, clock=time.time, lock_ttl=5.0):
    calls = RefreshCalls(
        make_session(), directory.store, auth_url=AUTH, base_url=BASE, timeout=(1, 1)
    )
    return TokenKeeper(directory, calls, margin=margin, lock_ttl=lock_ttl, ttl=ttl, clock=clock)


def rotation(access: str, refresh: str):
    return {"accessToken": access, "refreshToken": refresh}


def account_of(directory, credential=REFRESH):
    return directory.store.get_account(directory.account_of(credential))


def sent_refresh_tokens(mock) -> list[str]:
    return [json.loads(c.request.body)["refresh_token"] for c in mock.calls if c.request.body]


# -- rotation ---------------------------------------------------------------------------------


def test_the_rotation_is_stored_before_the_new_access_token_is_used(mock, directory):
    access = make_jwt(sub="u-1")
    mock.post(ROTATING_URL, json=rotation(access, "rotated-1"))
    seen = {}

    def chat(request):
        stored = account_of(directory)
        seen.update(refresh=stored.refresh_token, access=stored.access_token)
        seen["authorization"] = request.headers["Authorization"]
        return 200, {}, "{}"

    mock.add_callback("GET", BASE + "/x", callback=chat)
    transport = Transport(make_session(), BASE, make_keeper(directory), (1, 1))
    transport.json(REFRESH, "GET", "/x")
    assert seen == {"refresh": "rotated-1", "access": access, "authorization": f"Bearer {access}"}
    assert account_of(directory).access_expires_at == token_expiry(access)


def test_the_next_refresh_sends_the_rotated_token_for_the_unchanged_credential(mock, directory):
    clock = Clock()
    first = make_jwt(exp=int(clock.now) + 900, iat=int(clock.now), jti="1")
    second = make_jwt(exp=int(clock.now) + 1800, iat=int(clock.now) + 900, jti="2")
    mock.post(ROTATING_URL, json=rotation(first, "rotated-1"))
    mock.post(ROTATING_URL, json=rotation(second, "rotated-2"))
    keeper = make_keeper(directory, clock=clock)
    assert keeper.get(REFRESH) == first
    clock.now += 900
    assert keeper.get(REFRESH) == second
    assert sent_refresh_tokens(mock) == [REFRESH, "rotated-1"]
    assert account_of(directory).refresh_token == "rotated-2"


def test_a_new_keeper_on_the_same_store_continues_from_the_rotation(mock, state_dir):
    # A restart: the account, its rotated refresh token and its access token are in the store.
    access = make_jwt(jti="a")
    mock.post(ROTATING_URL, json=rotation(access, "rotated-1"))
    for _ in range(2):
        store = open_store("", state_dir)
        try:
            assert make_keeper(AccountDirectory(store)).get(REFRESH) == access
        finally:
            store.close()
    assert sent_refresh_tokens(mock) == [REFRESH]


# -- which endpoint ---------------------------------------------------------------------------


def test_a_404_falls_back_to_the_get_refresh_and_is_remembered(mock, directory):
    first, second = make_jwt(jti="1"), make_jwt(jti="2")
    mock.post(ROTATING_URL, status=404, json={"code": "unimplemented"})
    mock.get(REFRESH_URL, json={"access_token": first, "refresh_token": REFRESH})
    mock.get(REFRESH_URL, json={"access_token": second, "refresh_token": "rotated-by-get"})
    keeper = make_keeper(directory)
    assert keeper.get(REFRESH) == first
    account_fp = directory.account_of(REFRESH)
    assert directory.store.kv_get(ENDPOINT_NAMESPACE, account_fp) == LEGACY
    keeper.invalidate(REFRESH, first)
    assert keeper.get(REFRESH) == second
    assert [c.request.method for c in mock.calls] == ["POST", "GET", "GET"]
    assert mock.calls[1].request.headers["Authorization"] == f"Bearer {REFRESH}"
    # The GET may rotate too: its refresh token is kept like the other one's.
    assert account_of(directory).refresh_token == "rotated-by-get"


def test_the_rotating_endpoint_is_remembered_too(mock, directory):
    mock.post(ROTATING_URL, json=rotation(make_jwt(), "rotated-1"))
    make_keeper(directory).get(REFRESH)
    assert directory.store.kv_get(ENDPOINT_NAMESPACE, directory.account_of(REFRESH)) == ROTATING


# -- refused refreshes ------------------------------------------------------------------------


def test_a_refused_refresh_is_authentication_failed(mock, directory, caplog):
    mock.post(ROTATING_URL, status=401, json={"code": "unauthenticated", "message": "invalid"})
    caplog.set_level(logging.DEBUG)
    with pytest.raises(AuthenticationFailed) as caught:
        make_keeper(directory).get(REFRESH)
    assert "refresh token" in caught.value.message
    assert REFRESH not in caught.value.message and REFRESH not in caplog.text
    assert account_of(directory).refresh_token == REFRESH  # nothing was stored


def test_an_access_jwt_is_used_as_it_is(mock, directory):
    token = make_jwt(sub="direct")
    keeper = make_keeper(directory)
    assert keeper.get(token) == token
    assert not keeper.can_refresh(token)
    assert not mock.calls


def test_a_pool_account_holding_only_an_access_token_uses_it(mock, directory):
    token = make_jwt(sub="pool")
    directory.store.upsert_account("a1b2c3d4e5f6", access_token=token)
    keeper = make_keeper(directory)
    assert keeper.get(pool_credential("a1b2c3d4e5f6")) == token
    assert not keeper.can_refresh(pool_credential("a1b2c3d4e5f6"))
    with pytest.raises(AuthenticationFailed):
        keeper.get(pool_credential("000000000000"))
    assert not mock.calls


def test_a_pool_account_refreshes_its_stored_token(mock, directory):
    access = make_jwt()
    mock.post(ROTATING_URL, json=rotation(access, "rotated-1"))
    account_fp = fingerprint(REFRESH)
    directory.store.upsert_account(account_fp, refresh_token=REFRESH)
    keeper = make_keeper(directory)
    assert keeper.can_refresh(pool_credential(account_fp))
    assert keeper.get(pool_credential(account_fp)) == access
    assert sent_refresh_tokens(mock) == [REFRESH]
    assert set(keeper.secrets_for(pool_credential(account_fp))) >= {access, "rotated-1"}


# -- when to refresh --------------------------------------------------------------------------


def test_refresh_happens_the_margin_with_jitter_before_exp(mock, directory):
    clock = Clock()
    issued = int(clock.now)
    first = make_jwt(exp=issued + 900, iat=issued, jti="1")
    mock.post(ROTATING_URL, json=rotation(first, "rotated-1"))
    mock.post(ROTATING_URL, json=rotation(make_jwt(jti="2"), "rotated-2"))
    keeper = make_keeper(directory, margin=180, clock=clock)
    assert keeper.get(REFRESH) == first
    due = issued + 900 - 180 * jitter(first)
    assert 900 - 216 <= due - issued <= 900 - 144
    clock.now = due - 1
    assert keeper.get(REFRESH) == first
    clock.now = due + 1
    assert keeper.get(REFRESH) != first
    assert len(mock.calls) == 2


def test_a_margin_longer_than_half_the_lifetime_waits_for_half_of_it(mock, directory):
    clock = Clock()
    issued = int(clock.now)
    short = make_jwt(exp=issued + 10, iat=issued)
    mock.post(ROTATING_URL, json=rotation(short, "rotated-1"))
    keeper = make_keeper(directory, margin=180, clock=clock)
    keeper.get(REFRESH)
    clock.now = issued + 4.9
    keeper.get(REFRESH)
    assert len(mock.calls) == 1


def test_the_reuse_cap_applies_to_a_token_without_exp(mock, directory):
    clock = Clock()
    mock.get(REFRESH_URL, json={"access_token": "plain-access-1"})
    mock.get(REFRESH_URL, json={"access_token": "plain-access-2"})
    mock.post(ROTATING_URL, status=404)
    keeper = make_keeper(directory, ttl=300, clock=clock)
    assert keeper.get(REFRESH) == "plain-access-1"
    clock.now += 299
    assert keeper.get(REFRESH) == "plain-access-1"
    clock.now += 2
    assert keeper.get(REFRESH) == "plain-access-2"


def test_without_a_cap_a_token_without_exp_lasts_until_refused(mock, directory):
    clock = Clock()
    mock.post(ROTATING_URL, json=rotation("plain-1", "r1"))
    mock.post(ROTATING_URL, json=rotation("plain-2", "r2"))
    keeper = make_keeper(directory, clock=clock)
    assert keeper.get(REFRESH) == "plain-1"
    clock.now += 30 * 86400
    assert keeper.get(REFRESH) == "plain-1"
    keeper.invalidate(REFRESH, "plain-1")
    assert keeper.get(REFRESH) == "plain-2"
    keeper.invalidate(REFRESH, "plain-1")  # a slow request reporting the old token's 401
    assert keeper.get(REFRESH) == "plain-2"


# -- one refresh at a time --------------------------------------------------------------------


def test_a_lock_held_elsewhere_means_waiting_for_its_tokens(mock, directory, state_dir):
    theirs = make_jwt(jti="theirs")
    account_fp = directory.account_of(REFRESH)
    other = open_store("", state_dir)  # another process's view of the same store
    holder = new_holder()
    assert other.acquire_refresh_lock(account_fp, holder, 10)

    def other_process_refreshes():
        time.sleep(0.3)
        other.set_tokens(account_fp, "rotated-elsewhere", theirs, time.time() + 900)
        other.release_refresh_lock(account_fp, holder)

    thread = threading.Thread(target=other_process_refreshes)
    thread.start()
    try:
        started = time.monotonic()
        assert make_keeper(directory).get(REFRESH) == theirs
        assert time.monotonic() - started >= 0.25
    finally:
        thread.join()
        other.close()
    assert not mock.calls  # no second refresh


def test_a_holder_that_never_finishes_bounds_the_wait(mock, directory, state_dir):
    account_fp = directory.account_of(REFRESH)
    other = open_store("", state_dir)
    try:
        # The lock lives longer than this keeper is willing to wait.
        assert other.acquire_refresh_lock(account_fp, new_holder(), 60)
        started = time.monotonic()
        with pytest.raises(UpstreamTimeout):
            make_keeper(directory, lock_ttl=0.3).get(REFRESH)
        assert time.monotonic() - started < 5
    finally:
        other.close()
    assert not mock.calls


def test_concurrent_callers_share_one_refresh(mock, directory, state_dir):
    access = make_jwt()

    def slow(request):
        time.sleep(0.3)
        return 200, {}, json.dumps(rotation(access, "rotated-1"))

    mock.add_callback("POST", ROTATING_URL, callback=slow)
    stores = [open_store("", state_dir) for _ in range(2)]
    # Two "processes" (each its own store connection and keeper), four callers in each.
    keepers = [make_keeper(AccountDirectory(store)) for store in stores]
    results: list[str] = []
    threads = [
        threading.Thread(target=lambda k=k: results.append(k.get(REFRESH)))
        for k in keepers
        for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for store in stores:
        store.close()
    assert results == [access] * 8
    assert len(mock.calls) == 1


# -- secrets ----------------------------------------------------------------------------------


def test_no_token_in_logs_or_repr(mock, directory, caplog):
    access = make_jwt(jti="secret")
    mock.post(ROTATING_URL, json=rotation(access, "rotated-secret-token"))
    caplog.set_level(logging.DEBUG)
    keeper = make_keeper(directory)
    keeper.get(REFRESH)
    shown = caplog.text + repr(keeper) + repr(account_of(directory))
    for token in (REFRESH, access, "rotated-secret-token"):
        assert token not in shown
    assert "refreshed" in caplog.text


def test_a_hanging_refresh_is_one_timeout(mock, directory):
    mock.post(ROTATING_URL, body=requests.exceptions.ReadTimeout("hang"))
    with pytest.raises(UpstreamTimeout):
        make_keeper(directory).get(REFRESH)
    assert len(mock.calls) == 1


# -- interruptions ----------------------------------------------------------------------------


def run_under_gevent(tmp_path, scenario: str) -> tuple[dict, str]:
    command = [sys.executable, "-m", "tests.upstream.gevent_refresh", str(tmp_path / "state")]
    result = subprocess.run(
        [*command, scenario], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout), result.stderr


@pytest.mark.parametrize("scenario", ["refresh", "lock"])
def test_a_client_gone_mid_refresh_still_leaves_the_rotated_tokens_stored(tmp_path, scenario):
    # ClientDisconnected is thrown into the waiting greenlet while Kimi answers the refresh
    # ("refresh") or right after the store's refresh lock was taken ("lock").
    seen, stderr = run_under_gevent(tmp_path, scenario)
    assert seen["finished_at_interruption"] is False
    assert seen["waiter"] == "ClientDisconnected"  # the interruption reached the waiter
    assert seen["saved"] is True
    assert seen["refresh_token"] == "rotated-1"
    assert seen["access_token"] == seen["next_get"] == "plain-access-rotated"
    assert seen["refresher_calls"] == 1
    assert seen["lock_free"] is True
    assert "Traceback" not in stderr


def test_under_gevent_a_failed_refresh_reaches_the_caller_and_frees_the_lock(tmp_path):
    seen, stderr = run_under_gevent(tmp_path, "refused")
    assert seen["waiter"] == "AuthenticationFailed"
    assert seen["lock_free"] is True
    assert "Traceback" not in stderr  # the hub did not report the refresh greenlet's error


def test_a_store_failure_right_after_taking_the_lock_releases_it(mock, directory):
    store = directory.store
    account_fp = directory.account_of(REFRESH)
    acquire = store.acquire_refresh_lock

    def acquire_then_fail(fp, holder, ttl):
        acquire(fp, holder, ttl)
        raise StoreError("the connection broke after the lock was taken")

    store.acquire_refresh_lock = acquire_then_fail
    with pytest.raises(StoreError):
        make_keeper(directory).get(REFRESH)
    assert acquire(account_fp, new_holder(), 5)  # not held until its ttl
    assert not mock.calls
