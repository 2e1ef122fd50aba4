"""Redis going away: every call raises StoreUnavailable, and the store works again by itself
once the server is back."""

from __future__ import annotations

import threading
import time

import pytest

from kimiproxy.accounts import StoreUnavailable, open_store
from kimiproxy.hosting.processes import free_port, stop
from kimiproxy.hosting.redis_process import start_redis
from tests.accounts.conftest import require_redis_server

TOKEN = "eyJhbGciOiJIUzUxMiJ9.a-token-no-error-may-show"


@pytest.fixture
def own_redis():
    """A server of this test's own, to stop and start again on the same port."""
    require_redis_server()
    port = free_port()
    server = {"process": start_redis(port)}
    yield port, server
    stop(server["process"])


def test_stop_and_restart(own_redis):
    port, server = own_redis
    store = open_store(f"redis://127.0.0.1:{port}/0")
    store.upsert_account("acc1", refresh_token=TOKEN)
    assert store.acquire_lease("acc1", "h1", ttl=30)

    stop(server["process"])
    calls = [
        store.ping,
        lambda: store.get_account("acc1"),
        lambda: store.list_accounts(),
        lambda: store.set_tokens("acc1", TOKEN, TOKEN, None),
        lambda: store.upsert_account("acc2", refresh_token=TOKEN),
        lambda: store.acquire_lease("acc1", "h2", ttl=30),
        lambda: store.release_lease("acc1", "h1"),
        lambda: store.acquire_refresh_lock("acc1", "h1", ttl=30),
        lambda: store.kv_set("ns", "k", "v"),
        lambda: store.wait_for_release(1),
    ]
    for call in calls:
        started = time.monotonic()
        with pytest.raises(StoreUnavailable, match="unavailable") as caught:
            call()
        assert time.monotonic() - started < 3  # fails fast, does not hang
        assert TOKEN not in str(caught.value) and str(port) in str(caught.value)

    server["process"] = start_redis(port)
    store.ping()
    store.upsert_account("acc1", refresh_token=TOKEN)  # the server kept nothing (--save '')
    assert store.get_account("acc1").refresh_token == TOKEN
    assert store.acquire_lease("acc1", "h1", ttl=30)
    assert store.kv_set("ns", "k", "v") is None and store.kv_get("ns", "k") == "v"


def test_a_waiter_learns_of_the_outage(own_redis):
    port, server = own_redis
    store = open_store(f"redis://127.0.0.1:{port}/0")
    outcome = []

    def wait():
        try:
            outcome.append(store.wait_for_release(20))
        except StoreUnavailable as error:
            outcome.append(error)

    waiter = threading.Thread(target=wait)
    waiter.start()
    time.sleep(0.3)
    stop(server["process"])
    waiter.join(10)
    assert not waiter.is_alive() and isinstance(outcome[0], StoreUnavailable), outcome
