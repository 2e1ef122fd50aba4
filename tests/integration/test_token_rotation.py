"""Token rotation end to end: kimiproxy under gunicorn/gevent in front of an emulator whose
access tokens live 3 seconds and whose refresh token rotates on every refresh (the old one is
refused from then on), for both protocols. The emulator's refresh record says whether any two
holders of one refresh token ever raced (``conflicts``) and how often the token rotated."""

from __future__ import annotations

import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import requests

from kimiproxy.hosting.processes import free_port, start_emulator, start_proxy, stop
from kimiproxy.hosting.redis_process import start_redis
from kimiproxy.upstream.tokens import fingerprint
from tests.accounts.conftest import require_redis_server
from tests.conftest import PROTOCOLS

ACCESS_TTL = 3  # seconds an emulated access token lives
MARGIN = "1"  # KIMIPROXY_REFRESH_MARGIN: refresh about a second before exp
ROTATING = "/api/account.gateway.v1.AuthService/RefreshToken"
LEGACY = "/api/auth/token/refresh"
EMULATOR_OPTIONS = {
    "access_ttl": ACCESS_TTL,
    "refresh_delay": 0.3,  # widens the window in which two refreshes would overlap
    "one_stream_per_account": False,  # many answers on one account at once
    "refresh_hang_seconds": 6.0,
}


class Kimi:
    """The emulator's control API."""

    def __init__(self, url: str, secret_scan):
        self.url = url
        self.secret_scan = secret_scan

    def reset(self, **options: object) -> None:
        requests.post(f"{self.url}/_emulator/reset", timeout=5).raise_for_status()
        if options:
            answer = requests.post(f"{self.url}/_emulator/options", json=options, timeout=5)
            answer.raise_for_status()

    def refreshes(self) -> dict:
        answer = requests.get(f"{self.url}/_emulator/refreshes", timeout=5)
        answer.raise_for_status()
        return answer.json()

    def calls_to(self, path: str) -> list[dict]:
        answer = requests.get(f"{self.url}/_emulator/calls", timeout=5)
        return [call for call in answer.json()["calls"] if call["path"] == path]

    def fault(self, name: str, times: int) -> None:
        body = {"fault": name, "times": times}
        requests.post(f"{self.url}/_emulator/faults", json=body, timeout=5).raise_for_status()


@pytest.fixture(scope="module")
def kimi(secret_scan) -> Iterator[Kimi]:
    port = free_port()
    process = start_emulator(port, EMULATOR_OPTIONS, log=secret_scan.log_file("emulator"))
    url = f"http://127.0.0.1:{port}"
    try:
        yield Kimi(url, secret_scan)
    finally:
        secret_scan.collect_from_emulator(url)
        stop(process)


@pytest.fixture
def fresh_kimi(kimi) -> Kimi:
    kimi.reset()
    return kimi


@contextmanager
def proxy(kimi: Kimi, protocol: str, *, workers: int = 1, **env: str) -> Iterator[str]:
    """A kimiproxy in front of ``kimi``; yields its chat completions URL."""
    settings = {
        "KIMIPROXY_UPSTREAM": kimi.url,
        "KIMIPROXY_PROTOCOL": protocol,
        "KIMIPROXY_LOAD_ENTRYPOINT_PLUGINS": "false",
        "KIMIPROXY_REFRESH_MARGIN": MARGIN,
        "KIMIPROXY_ACCOUNT_CONCURRENCY": "0",
        **env,
    }
    port = free_port()
    log = kimi.secret_scan.log_file(f"proxy-{protocol}")
    process = start_proxy(port, settings, workers=workers, log=log)
    try:
        yield f"http://127.0.0.1:{port}/v1/chat/completions"
    finally:
        stop(process)


def ask(url: str, token: str) -> requests.Response:
    body = {"model": "kimi", "messages": [{"role": "user", "content": "hello"}]}
    return requests.post(url, json=body, headers={"Authorization": f"Bearer {token}"}, timeout=60)


def answered(url: str, token: str) -> None:
    response = ask(url, token)
    assert response.status_code == 200, response.text
    assert response.json()["choices"][0]["message"]["content"] == "You said: hello"


def session_records(kimi: Kimi, token: str) -> list[dict]:
    """The refreshes of the login session ``token`` started, in order, checked to form one
    chain: each refresh used the refresh token the one before it handed out."""
    records = kimi.refreshes()["refreshes"]
    chain, current = [], fingerprint(token)
    for record in records:
        if record["token"] == current:
            chain.append(record)
            current = record["new_token"]
    assert len(chain) == len(records), records
    return chain


def hammer(urls: list[str], token: str, seconds: float, threads: int = 8) -> list[int]:
    """Requests from ``threads`` threads at once, round the ``urls``, for ``seconds``; every
    status seen."""
    statuses: list[int] = []
    deadline = time.monotonic() + seconds

    def run(n: int) -> None:
        i = n
        while time.monotonic() < deadline:
            statuses.append(ask(urls[i % len(urls)], token).status_code)
            i += 1

    workers = [threading.Thread(target=run, args=(n,)) for n in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return statuses


def check_rotations(records: list[dict], seconds: float) -> None:
    """Every refresh rotated and none raced; there were as many as the expiries call for: about
    one per token lifetime, never two for one expiry."""
    assert [r["outcome"] for r in records] == ["rotated"] * len(records), records
    starts = [r["started_at"] for r in records]
    assert len(records) >= int(seconds // ACCESS_TTL), starts
    # A token is refreshed one margin (±20 %) before exp; the emulator's iat is whole seconds.
    gaps = [b - a for a, b in zip(starts, starts[1:], strict=False)]
    assert all(gap >= ACCESS_TTL - 1.2 * float(MARGIN) - 1.0 for gap in gaps), gaps
    assert len(records) <= 2 + seconds / (ACCESS_TTL - 1.2 * float(MARGIN) - 1.0), starts


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_the_rotation_survives_a_restart(fresh_kimi, protocol, tmp_path):
    token = f"restart-{protocol}-refresh-token"
    state = {"KIMIPROXY_DATA_DIR": str(tmp_path / "state")}
    with proxy(fresh_kimi, protocol, **state) as url:
        answered(url, token)
    time.sleep(ACCESS_TTL + 0.5)  # the stored access token has expired
    with proxy(fresh_kimi, protocol, **state) as url:
        answered(url, token)  # the client's unchanged Bearer, a new process
    first, second = session_records(fresh_kimi, token)
    assert (first["outcome"], second["outcome"]) == ("rotated", "rotated")
    assert fresh_kimi.refreshes()["conflicts"] == 0
    # A proxy that did not keep the rotated refresh token holds a dead one now.
    with proxy(fresh_kimi, protocol, KIMIPROXY_DATA_DIR=tempfile.mkdtemp()) as url:
        assert ask(url, token).status_code == 401


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_two_workers_refresh_one_token_without_conflict(fresh_kimi, protocol):
    token = f"workers-{protocol}-refresh-token"
    seconds = 7.0
    with proxy(fresh_kimi, protocol, workers=2) as url:
        statuses = hammer([url], token, seconds)
    assert statuses and set(statuses) == {200}
    listing = fresh_kimi.refreshes()
    assert listing["conflicts"] == 0, listing
    check_rotations(session_records(fresh_kimi, token), seconds)


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_two_instances_on_one_redis_refresh_without_conflict(fresh_kimi, protocol):
    require_redis_server()
    redis_process = start_redis(free_port())
    redis_port = redis_process.args[redis_process.args.index("--port") + 1]
    shared = {"KIMIPROXY_STATE": f"redis://127.0.0.1:{redis_port}/0"}
    token = f"instances-{protocol}-refresh-token"
    seconds = 7.0
    try:
        with (
            proxy(fresh_kimi, protocol, **shared) as one,
            proxy(fresh_kimi, protocol, **shared) as two,
        ):
            statuses = hammer([one, two], token, seconds)
    finally:
        stop(redis_process)
    assert statuses and set(statuses) == {200}
    listing = fresh_kimi.refreshes()
    assert listing["conflicts"] == 0, listing
    check_rotations(session_records(fresh_kimi, token), seconds)


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_without_the_rotating_endpoint_the_get_refresh_is_used(kimi, protocol):
    kimi.reset(rotating_refresh=False, legacy_refresh_rotates=True)
    token = f"legacy-{protocol}-refresh-token"
    with proxy(kimi, protocol) as url:
        answered(url, token)
        time.sleep(ACCESS_TTL + 0.5)
        answered(url, token)
    records = session_records(kimi, token)
    assert [(r["path"], r["outcome"]) for r in records] == [(LEGACY, "rotated")] * 2
    # The 404 was heard once: the account's endpoint is remembered.
    assert len(kimi.calls_to(ROTATING)) == 1
    assert kimi.refreshes()["conflicts"] == 0


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_a_hanging_refresh_costs_one_read_timeout(fresh_kimi, protocol):
    fresh_kimi.fault("refresh_hang", times=2)
    with proxy(fresh_kimi, protocol, KIMIPROXY_READ_TIMEOUT="2") as url:
        started = time.monotonic()
        response = ask(url, f"hang-{protocol}-refresh-token")
        took = time.monotonic() - started
    assert response.status_code == 504, response.text
    assert 2 <= took < 3.5, took  # one read timeout, not two
    assert len(fresh_kimi.calls_to(ROTATING)) == 1


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_a_server_held_account_keeps_its_rotation_across_a_restart(fresh_kimi, protocol, tmp_path):
    """The operator's configured token is the one Kimi has since killed; the pool account
    answers on with the rotated one the store kept."""
    token = f"pool-restart-{protocol}-refresh-token"
    key = f"pool-restart-{protocol}-client-key"
    fresh_kimi.secret_scan.add(token, key)
    state = {
        "KIMIPROXY_DATA_DIR": str(tmp_path / "state"),
        "KIMIPROXY_KIMI_TOKENS": token,
        "KIMIPROXY_API_KEYS": key,
    }
    with proxy(fresh_kimi, protocol, **state) as url:
        answered(url, key)
    time.sleep(ACCESS_TTL + 0.5)
    with proxy(fresh_kimi, protocol, **state) as url:
        answered(url, key)  # the same settings: the original token is re-read, not re-used
    first, second = session_records(fresh_kimi, token)
    assert (first["outcome"], second["outcome"]) == ("rotated", "rotated")
    assert fresh_kimi.refreshes()["conflicts"] == 0
