"""End to end: many concurrent answers on few Kimi accounts, through gunicorn proxies with two
gevent workers, on one instance (SQLite) and on two instances sharing a Redis. The emulator
enforces Kimi's one stream per account; its stream history shows what the proxies did."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from tests.accounts.conftest import require_redis_server
from tests.conftest import PROTOCOLS
from tests.integration.account_cluster import (
    SLOW,
    Cluster,
    ask,
    ask_many,
    chat_calls,
    emulator_account,
    overlaps,
    own_redis,
    stream_history,
    tokens,
    wait_for_stream,
)

STREAMS, ACCOUNTS = 10, 3
BACKENDS = ["sqlite", "redis"]


@pytest.fixture(scope="module")
def cluster(emulator, secret_scan):
    started = Cluster(emulator.url, secret_scan)
    try:
        yield started
    finally:
        started.stop_all()


@pytest.fixture(scope="module")
def shared_redis():
    require_redis_server()
    with own_redis() as (port, _):
        yield f"redis://127.0.0.1:{port}/0"


@pytest.fixture(scope="module")
def deployment(cluster, request):
    """``deployment(protocol, backend)``: the proxy URLs of one deployment, started once: one
    instance of two workers on SQLite, or two such instances sharing a Redis."""
    started: dict[tuple[str, str], list[str]] = {}

    def get(protocol: str, backend: str) -> list[str]:
        if (protocol, backend) not in started:
            if backend == "sqlite":
                instances = [cluster.start(protocol)]
            else:
                state = request.getfixturevalue("shared_redis")
                instances = [cluster.start(protocol, KIMIPROXY_STATE=state) for _ in range(2)]
            started[protocol, backend] = [instance.url for instance in instances]
        return started[protocol, backend]

    return get


def set_options(emulator, **options) -> None:
    requests.post(f"{emulator.url}/_emulator/options", json=options, timeout=5).raise_for_status()


@pytest.fixture(autouse=True)
def _fresh_emulator(emulator):
    emulator.reset()
    set_options(emulator, slow_chunk_delay=0.1)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_concurrent_streams_wait_for_their_accounts(deployment, emulator, protocol, backend):
    urls = deployment(protocol, backend)
    credentials = tokens(ACCOUNTS, "share")
    prompts = [f"{SLOW} stream {n}" for n in range(STREAMS)]
    jobs = [(urls[n % len(urls)], credentials, prompt) for n, prompt in enumerate(prompts)]
    results = ask_many(jobs)
    assert [(status, text) for status, _, text in results] == [
        (200, f"You said: {prompt}") for prompt in prompts
    ]
    history = stream_history(emulator.url)
    # One upstream stream per answer, none refused as busy, never two at once on one account,
    # and every account put to work.
    assert [entry for entry in history if entry["refused"]] == []
    assert len(history) == STREAMS
    assert overlaps(history) == []
    assert {entry["account"] for entry in history} == {emulator_account(t) for t in credentials}


@pytest.fixture(scope="module")
def impatient(cluster):
    """Per protocol, an instance whose requests wait at most a second for an account."""
    started = {}

    def get(protocol: str) -> str:
        if protocol not in started:
            started[protocol] = cluster.start(protocol, KIMIPROXY_ACCOUNT_WAIT="1").url
        return started[protocol]

    return get


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_a_request_that_waits_too_long_gets_429_with_retry_after(impatient, emulator, protocol):
    url = impatient(protocol)
    set_options(emulator, slow_chunk_delay=0.4)  # the first answer takes a few seconds
    credential = tokens(1, "wait")
    with ThreadPoolExecutor(1) as pool:
        first = pool.submit(ask, url, credential, f"{SLOW} take your time")
        wait_for_stream(emulator.url)
        started = time.monotonic()
        status, headers, body = ask(url, credential, "me too")
        waited = time.monotonic() - started
        assert first.result()[0] == 200
    assert status == 429 and int(headers["Retry-After"]) >= 1
    assert body["error"]["code"] == "account_busy" and body["error"]["message"]
    assert 0.9 <= waited < 4
    # The second request never reached Kimi: the account was not asked twice at once.
    history = stream_history(emulator.url)
    assert len(history) == 1 and not history[0]["refused"]


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_a_throttled_account_cools_down_and_another_answers(deployment, emulator, protocol):
    (url,) = deployment(protocol, "sqlite")
    credentials = tokens(2, "throttle")
    emulator.fault("throttle")
    assert ask(url, credentials, "hello")[::2] == (200, "You said: hello")
    throttled, answered = (call["account"] for call in chat_calls(emulator.url))
    assert throttled != answered
    # Kimi asked for 3 s: until then every answer comes from the other account (a random pick
    # among both would land on the throttled one with odds 15/16 in four tries).
    for n in range(4):
        assert ask(url, credentials, f"again {n}")[0] == 200
    assert [call["account"] for call in chat_calls(emulator.url)][2:] == [answered] * 4


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_kimi_failing_before_output_fails_over_to_another_account(deployment, emulator, protocol):
    (url,) = deployment(protocol, "sqlite")
    credentials = tokens(2, "failover")
    emulator.fault("server_error")
    assert ask(url, credentials, "hello", stream=False)[0] == 200
    failed, answered = (call["account"] for call in chat_calls(emulator.url))
    assert failed != answered
    assert {failed, answered} == {emulator_account(t) for t in credentials}


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_a_cut_after_output_began_is_not_retried(deployment, emulator, protocol):
    (url,) = deployment(protocol, "sqlite")
    emulator.fault("cut_stream")
    status, _, body = ask(url, tokens(2, "cut"), "hello there, a long enough answer")
    assert status == 502 and body["error"]["message"]
    assert len(chat_calls(emulator.url)) == 1
