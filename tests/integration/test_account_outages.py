"""End to end: accounts survive what happens to the processes around them. A killed instance's
leases expire, so another instance gets the account within the lease TTL; Redis going away
turns requests into clean 503s, and once it is back they succeed again without a restart and
without a lease lost for good."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from kimiproxy.accounts import open_store
from kimiproxy.hosting.processes import free_port, stop
from kimiproxy.hosting.redis_process import start_redis
from tests.accounts.conftest import require_redis_server
from tests.conftest import PROTOCOLS
from tests.integration.account_cluster import (
    SLOW,
    Cluster,
    ask,
    own_redis,
    stream_history,
    tokens,
    wait_for_stream,
)

LEASE_TTL = 2.0
LONG = f"{SLOW} [[reply:long]]"  # an answer that outlives the test unless cut


@pytest.fixture
def cluster(emulator, secret_scan):
    require_redis_server()
    emulator.reset()
    options = {"slow_chunk_delay": 0.3}
    requests.post(f"{emulator.url}/_emulator/options", json=options, timeout=5).raise_for_status()
    started = Cluster(emulator.url, secret_scan)
    try:
        yield started
    finally:
        started.stop_all()


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_a_killed_instance_frees_its_account_within_the_lease_ttl(cluster, emulator, protocol):
    with own_redis() as (port, _):
        env = {"KIMIPROXY_STATE": f"redis://127.0.0.1:{port}/0", "KIMIPROXY_LEASE_TTL": "2"}
        doomed, survivor = cluster.start(protocol, **env), cluster.start(protocol, **env)
        credential = tokens(1, "killed")
        with ThreadPoolExecutor(2) as pool:
            cut_short = pool.submit(ask, doomed.url, credential, LONG)
            wait_for_stream(emulator.url)
            waiting = pool.submit(ask, survivor.url, credential, "after the crash")
            time.sleep(1.5)
            # The survivor waits for the lease: it has not asked Kimi.
            assert len(stream_history(emulator.url)) == 1 and not waiting.done()
            killed = time.monotonic()
            doomed.kill()
            status, _, text = waiting.result(timeout=30)
            took = time.monotonic() - killed
            assert cut_short.exception(timeout=30) is not None or cut_short.result()[0] != 200
    assert (status, text) == (200, "You said: after the crash")
    assert took < LEASE_TTL + 3, took
    history = stream_history(emulator.url)
    assert len(history) == 2 and not any(entry["refused"] for entry in history)


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_redis_going_away_is_a_clean_503_and_its_return_heals(
    cluster, emulator, protocol, tmp_path
):
    port, data_dir = free_port(), tmp_path / "redis"
    url = f"redis://127.0.0.1:{port}/0"
    server = start_redis(port, data_dir=data_dir)
    try:
        proxy = cluster.start(protocol, KIMIPROXY_STATE=url, KIMIPROXY_LEASE_TTL="2").url
        credential = tokens(1, "outage")
        assert ask(proxy, credential, "before")[0] == 200
        with ThreadPoolExecutor(1) as pool:
            # An answer under way when Redis goes: its lease can be neither renewed nor released.
            in_flight = pool.submit(ask, proxy, credential, f"{SLOW} under way")
            wait_for_stream(emulator.url)
            stop(server)
            for stream in (True, False):
                started = time.monotonic()
                status, headers, body = ask(proxy, credential, "during", stream=stream)
                assert time.monotonic() - started < 5  # no hang
                assert status == 503, body
                assert body["error"]["code"] == "store_unavailable" and body["error"]["message"]
                assert body["error"]["type"] == "server_error"
            assert in_flight.result(timeout=30)[0] == 200
        server = start_redis(port, data_dir=data_dir)
        # Back without a restart of the proxy; the stale lease expires by itself.
        started = time.monotonic()
        assert ask(proxy, credential, "after")[::2] == (200, "You said: after")
        assert time.monotonic() - started < LEASE_TTL + 3
        store = open_store(url)
        try:
            accounts = store.list_accounts()
            assert accounts and all(store.in_flight(a.fingerprint) == 0 for a in accounts)
        finally:
            store.close()
    finally:
        stop(server)
