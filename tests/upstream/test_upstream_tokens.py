"""Credentials: JWT detection, refresh, caching, coalescing and invalidation."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
import time

import pytest
import requests
import responses

from kimiproxy.errors import AuthenticationFailed, UpstreamError, UpstreamUnavailable
from kimiproxy.upstream.tokens import (
    TokenCache,
    fingerprint,
    is_access_token,
    jwt_claims,
    refresh_access_token,
    token_expiry,
)

from .helpers import BASE, REFRESH_URL, make_jwt

REFRESH = "Zq8xK2mNp4Lr7Vt1Yw3Bc6Dh9Fj0sGk"


def test_access_jwt_is_detected():
    assert is_access_token(make_jwt())
    assert jwt_claims(make_jwt(sub="u-9"))["sub"] == "u-9"


@pytest.mark.parametrize(
    "token",
    [
        REFRESH,
        make_jwt(typ="refresh"),
        make_jwt(app_id="other"),
        "a.b.c",
        "eyJhbGciOiJIUzUxMiJ9.!!!notbase64!!!.sig",
        "eyJhbGciOiJIUzUxMiJ9.WzEsMl0.sig",  # payload is a JSON list
        "",
    ],
)
def test_anything_else_is_a_refresh_token(token):
    assert not is_access_token(token)


def test_payload_without_padding_decodes():
    # Every payload length modulo 4 must decode despite the stripped "=" padding.
    for sub in ("a", "ab", "abc", "abcd"):
        assert jwt_claims(make_jwt(sub=sub))["sub"] == sub


def test_fingerprint_is_short_and_does_not_reveal_the_token():
    assert len(fingerprint(REFRESH)) == 10
    assert fingerprint(REFRESH) not in REFRESH
    assert fingerprint(REFRESH) == fingerprint(REFRESH)


# -- the refresh call -------------------------------------------------------------------------


@responses.activate
def test_refresh_sends_the_refresh_token_and_reads_access_token():
    access = make_jwt()
    responses.get(REFRESH_URL, json={"access_token": access, "refresh_token": REFRESH})
    assert refresh_access_token(requests.Session(), BASE, REFRESH, (1, 1)) == access
    assert responses.calls[0].request.headers["Authorization"] == f"Bearer {REFRESH}"


@responses.activate
def test_refresh_accepts_token_field():
    responses.get(REFRESH_URL, json={"token": "the-access"})
    assert refresh_access_token(requests.Session(), BASE, REFRESH, (1, 1)) == "the-access"


@responses.activate
@pytest.mark.parametrize(
    "status,body",
    [
        (401, {"error_type": "auth.token.invalid", "message": "您的授权已过期，请重新登录"}),
        (401, {}),
        (400, {"error_type": "auth.token.invalid", "message": f"bad token {REFRESH}"}),
    ],
)
def test_refused_refresh_is_authentication_failed_without_the_token(status, body):
    responses.get(REFRESH_URL, status=status, json=body)
    with pytest.raises(AuthenticationFailed) as caught:
        refresh_access_token(requests.Session(), BASE, REFRESH, (1, 1))
    message = caught.value.message
    assert message.startswith("Kimi rejected the refresh token")
    for start in range(0, len(REFRESH) - 6):
        assert REFRESH[start : start + 6] not in message


@responses.activate
def test_refresh_answer_without_token_is_upstream_error():
    responses.get(REFRESH_URL, json={"refresh_token": REFRESH})
    with pytest.raises(UpstreamError, match="no access token"):
        refresh_access_token(requests.Session(), BASE, REFRESH, (1, 1))


@responses.activate
def test_refresh_connection_error_is_unavailable():
    responses.get(REFRESH_URL, body=requests.ConnectionError("refused"))
    with pytest.raises(UpstreamUnavailable):
        refresh_access_token(requests.Session(), BASE, REFRESH, (1, 1))


# -- the cache --------------------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


class CountingRefresher:
    def __init__(self, make=lambda n: f"access-{n}", delay: float = 0.0):
        self.calls = 0
        self._make = make
        self._delay = delay

    def __call__(self, credential: str) -> str:
        self.calls += 1
        if self._delay:
            time.sleep(self._delay)
        return self._make(self.calls)


def test_access_token_is_cached_per_credential():
    refresher = CountingRefresher()
    cache = TokenCache(refresher)
    assert cache.get("r1") == "access-1"
    assert cache.get("r1") == "access-1"
    assert cache.get("r2") == "access-2"
    assert refresher.calls == 2


def test_access_jwt_credential_is_used_directly():
    refresher = CountingRefresher()
    cache = TokenCache(refresher)
    token = make_jwt()
    assert cache.get(token) == token
    assert refresher.calls == 0
    assert not cache.can_refresh(token)


def test_ttl_forces_a_new_refresh():
    clock, refresher = Clock(), CountingRefresher()
    cache = TokenCache(refresher, ttl=300, clock=clock)
    cache.get("r")
    clock.now += 299
    assert cache.get("r") == "access-1"
    clock.now += 2
    assert cache.get("r") == "access-2"


def test_refresh_happens_ahead_of_jwt_exp():
    clock = Clock()
    refresher = CountingRefresher(make=lambda n: make_jwt(exp=int(clock.now) + 3600, sub=str(n)))
    cache = TokenCache(refresher, ttl=None, margin=60, clock=clock)
    first = cache.get("r")
    assert token_expiry(first) == int(clock.now) + 3600
    clock.now += 3600 - 61
    assert cache.get("r") == first
    clock.now += 2  # now inside the 60 s margin
    assert cache.get("r") != first
    assert refresher.calls == 2


def test_invalidate_makes_the_next_use_refresh():
    refresher = CountingRefresher()
    cache = TokenCache(refresher)
    cache.get("r")
    cache.invalidate("r")
    assert cache.get("r") == "access-2"


def test_invalidate_with_a_stale_token_keeps_the_fresh_one():
    refresher = CountingRefresher()
    cache = TokenCache(refresher)
    stale = cache.get("r")
    cache.invalidate("r", stale)
    fresh = cache.get("r")
    cache.invalidate("r", stale)  # a slow request reporting the old token's 401
    assert cache.get("r") == fresh
    assert refresher.calls == 2


def test_failed_refresh_is_not_cached():
    calls = []

    def refresher(credential: str) -> str:
        calls.append(credential)
        if len(calls) == 1:
            raise UpstreamUnavailable("down")
        return "ok"

    cache = TokenCache(refresher)
    with pytest.raises(UpstreamUnavailable):
        cache.get("r")
    assert cache.get("r") == "ok"


def test_concurrent_threads_share_one_refresh():
    refresher = CountingRefresher(delay=0.2)
    cache = TokenCache(refresher)
    results: list[str] = []
    threads = [threading.Thread(target=lambda: results.append(cache.get("r"))) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert refresher.calls == 1
    assert results == ["access-1"] * 8


def test_different_credentials_refresh_in_parallel():
    refresher = CountingRefresher(delay=0.3)
    cache = TokenCache(refresher)
    started = time.monotonic()
    threads = [threading.Thread(target=cache.get, args=(f"r{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert refresher.calls == 4
    assert time.monotonic() - started < 1.0  # not serialized behind one lock


@responses.activate
def test_concurrent_refresh_over_http_is_one_call():
    def slow_refresh(request):
        time.sleep(0.2)
        return 200, {}, '{"access_token": "shared"}'

    responses.add_callback("GET", REFRESH_URL, callback=slow_refresh)
    session = requests.Session()
    cache = TokenCache(lambda r: refresh_access_token(session, BASE, r, (1, 5)))
    results: list[str] = []
    threads = [
        threading.Thread(target=lambda: results.append(cache.get(REFRESH))) for _ in range(2)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == ["shared", "shared"]
    assert len(responses.calls) == 1


def test_concurrent_greenlets_share_one_refresh():
    # In a fresh interpreter, as under gunicorn's gevent worker: threading is monkey-patched
    # first, so the cache's locks are cooperative and greenlets wait for the one refresh.
    script = textwrap.dedent(
        """
        from gevent import monkey
        monkey.patch_all()
        import gevent
        from kimiproxy.upstream.tokens import TokenCache

        calls = []

        def refresher(credential):
            calls.append(credential)
            gevent.sleep(0.1)
            return "access"

        cache = TokenCache(refresher)
        jobs = [gevent.spawn(cache.get, "r") for _ in range(10)]
        gevent.joinall(jobs, raise_error=True)
        assert [job.value for job in jobs] == ["access"] * 10, [job.value for job in jobs]
        print(len(calls))
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "1"


def test_cache_prunes_stale_entries():
    clock, refresher = Clock(), CountingRefresher()
    cache = TokenCache(refresher, ttl=10, clock=clock, max_entries=3)
    for i in range(3):
        cache.get(f"r{i}")
    clock.now += 11
    cache.get("new")
    cache.get("newer")  # over the cap: the stale ones go
    assert set(cache._entries) == {"new", "newer"}


def test_failed_refreshes_do_not_grow_the_cache():
    # Anyone can send bogus tokens; each failed refresh must not leave a lock behind for good.
    def refresher(credential: str) -> str:
        raise AuthenticationFailed("Kimi rejected the refresh token")

    cache = TokenCache(refresher, max_entries=5)
    for i in range(100):
        with pytest.raises(AuthenticationFailed):
            cache.get(f"bogus-{i}")
    assert len(cache._locks) <= 6
