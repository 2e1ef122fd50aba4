"""Leases and refresh locks: limits, expiry, minimum interval, renewal, and waking waiters in
other threads and processes, on both backends."""

from __future__ import annotations

import subprocess
import sys
import threading
import time

from kimiproxy.accounts import new_holder


def test_the_limit_holds_and_release_frees_a_slot(store):
    assert store.acquire_lease("acc", "h1", ttl=30, limit=2)
    assert store.acquire_lease("acc", "h2", ttl=30, limit=2)
    assert not store.acquire_lease("acc", "h3", ttl=30, limit=2)
    assert store.in_flight("acc") == 2 and store.in_flight("other") == 0
    assert store.acquire_lease("other", "h3", ttl=30, limit=2)  # limits are per account
    store.release_lease("acc", "h1")
    assert store.in_flight("acc") == 1
    assert store.acquire_lease("acc", "h3", ttl=30, limit=2)
    store.release_lease("acc", "nobody")  # harmless
    assert store.in_flight("acc") == 2


def test_limit_zero_is_unlimited(store):
    for number in range(20):
        assert store.acquire_lease("acc", f"h{number}", ttl=30, limit=0)
    assert store.in_flight("acc") == 20


def test_a_holder_acquiring_again_keeps_one_lease(store):
    assert store.acquire_lease("acc", "h1", ttl=30, limit=1)
    assert store.acquire_lease("acc", "h1", ttl=30, limit=1)
    assert store.in_flight("acc") == 1


def test_expired_leases_are_free(store):
    assert store.acquire_lease("acc", "crashed", ttl=0.2, limit=1)
    assert not store.acquire_lease("acc", "h2", ttl=30, limit=1)
    time.sleep(0.3)
    assert store.in_flight("acc") == 0
    assert store.acquire_lease("acc", "h2", ttl=30, limit=1)
    assert not store.renew_lease("acc", "crashed", ttl=30)  # its slot went to someone else
    assert store.in_flight("acc") == 1


def test_minimum_interval_between_lease_starts(store):
    assert store.acquire_lease("acc", "h1", ttl=30, limit=0, min_interval=0.3)
    store.release_lease("acc", "h1")
    assert not store.acquire_lease("acc", "h2", ttl=30, limit=0, min_interval=0.3)
    assert store.acquire_lease("acc", "h2", ttl=30, limit=0)  # another caller, no interval
    time.sleep(0.35)
    assert store.acquire_lease("acc", "h3", ttl=30, limit=0, min_interval=0.3)


def test_renew_extends_only_the_holders_live_lease(store):
    assert store.acquire_lease("acc", "h1", ttl=0.3, limit=1)
    assert store.renew_lease("acc", "h1", ttl=30)
    assert not store.renew_lease("acc", "h2", ttl=30)
    time.sleep(0.4)
    assert store.in_flight("acc") == 1
    assert not store.acquire_lease("acc", "h2", ttl=30, limit=1)
    assert store.acquire_lease("acc", "h3", ttl=0.2, limit=2)
    time.sleep(0.3)
    assert not store.renew_lease("acc", "h3", ttl=30)
    assert store.in_flight("acc") == 1


def test_wait_for_release_times_out_without_a_release(store):
    started = time.monotonic()
    assert not store.wait_for_release(0.3)
    assert 0.25 <= time.monotonic() - started < 2


def test_a_release_before_the_wait_is_not_missed(store):
    store.acquire_lease("acc", "h1", ttl=30)
    mark = store.release_mark()
    store.release_lease("acc", "h1")
    started = time.monotonic()
    assert store.wait_for_release(5, since=mark)
    assert time.monotonic() - started < 1
    assert store.release_mark() != mark


def test_a_release_in_another_thread_wakes_the_waiter(backend, store):
    other = backend.open()
    other.acquire_lease("acc", "h1", ttl=30)
    woken = []

    def wait():
        started = time.monotonic()
        woken.append((store.wait_for_release(10), time.monotonic() - started))

    waiter = threading.Thread(target=wait)
    waiter.start()
    time.sleep(0.3)
    other.release_lease("acc", "h1")
    waiter.join(5)
    other.close()
    assert woken and woken[0][0], woken
    assert 0.25 <= woken[0][1] < 2


RELEASER = """
import sys, time
from kimiproxy.accounts import open_store
store = open_store(sys.argv[1], prefix=sys.argv[2] or None)
time.sleep(0.4)
store.release_lease("acc", "h1")
"""


def test_a_release_in_another_process_wakes_the_waiter(backend, store):
    store.acquire_lease("acc", "h1", ttl=30)
    releaser = subprocess.Popen([sys.executable, "-c", RELEASER, backend.url, backend.prefix or ""])
    try:
        started = time.monotonic()
        assert store.wait_for_release(15)
        waited = time.monotonic() - started
    finally:
        assert releaser.wait(15) == 0
    assert waited >= 0.3 and store.in_flight("acc") == 0


def test_the_refresh_lock_has_one_holder(store):
    first, second = new_holder(), new_holder()
    assert first != second
    assert store.acquire_refresh_lock("acc", first, ttl=30)
    assert store.acquire_refresh_lock("acc", first, ttl=30)  # its holder may extend it
    assert not store.acquire_refresh_lock("acc", second, ttl=30)
    assert store.acquire_refresh_lock("other", second, ttl=30)  # locks are per account
    assert not store.release_refresh_lock("acc", second)
    assert not store.acquire_refresh_lock("acc", second, ttl=30)
    assert store.release_refresh_lock("acc", first)
    assert not store.release_refresh_lock("acc", first)
    assert store.acquire_refresh_lock("acc", second, ttl=30)


def test_an_expired_refresh_lock_is_free(store):
    assert store.acquire_refresh_lock("acc", "crashed", ttl=0.2)
    assert not store.acquire_refresh_lock("acc", "h2", ttl=30)
    time.sleep(0.3)
    assert store.acquire_refresh_lock("acc", "h2", ttl=30)
    assert not store.release_refresh_lock("acc", "crashed")  # it no longer holds it
    assert not store.acquire_refresh_lock("acc", "h3", ttl=30)


def test_refresh_lock_races_between_threads_have_one_winner(backend):
    stores = [backend.open() for _ in range(8)]
    barrier = threading.Barrier(len(stores))
    wins = []

    def race(index: int):
        barrier.wait()
        if stores[index].acquire_refresh_lock("acc", f"h{index}", ttl=30):
            wins.append(index)

    threads = [threading.Thread(target=race, args=(i,)) for i in range(len(stores))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    for opened in stores:
        opened.close()
    assert len(wins) == 1, wins
