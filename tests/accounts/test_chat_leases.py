"""The chat core's account leases on both store backends: one answer at a time per account,
waiting woken by a release anywhere, bounded waits, the minimum interval, renewal."""

from __future__ import annotations

import threading
import time

from kimiproxy.chat.leases import AccountLeases


def first_free(busy):
    return next((c for c in ("a", "b") if c not in busy), None)


def only_a(busy):
    return None if "a" in busy else "a"


def _leases(store, **options) -> AccountLeases:
    return AccountLeases(store, lambda credential: f"fp-{credential}", **options)


def test_a_busy_account_is_not_leased_twice(store):
    leases = _leases(store)
    assert leases.acquire(["a", "b"], first_free, time.monotonic() + 1).credential == "a"
    assert leases.acquire(["a", "b"], first_free, time.monotonic() + 1).credential == "b"
    assert leases.busy("a") and leases.busy("b") and leases.in_flight("a") == 1


def test_leases_are_shared_by_every_store_object(backend):
    first, second = backend.open(), backend.open()  # two workers
    try:
        assert _leases(first).acquire(["a"], only_a, time.monotonic() + 1) is not None
        assert _leases(second).acquire(["a"], only_a, time.monotonic() + 0.2) is None
    finally:
        first.close()
        second.close()


def test_a_waiter_gets_the_account_when_it_is_released(store):
    leases = _leases(store)
    held = leases.acquire(["a"], only_a, time.monotonic() + 1)
    got = []
    waiter = threading.Thread(
        target=lambda: got.append(leases.acquire(["a"], only_a, time.monotonic() + 5))
    )
    waiter.start()
    time.sleep(0.3)
    assert got == []
    released = time.monotonic()
    held.release()
    waiter.join(5)
    assert got and got[0].credential == "a"
    assert time.monotonic() - released < 1


def test_the_wait_is_bounded(store):
    leases = _leases(store)
    leases.acquire(["a"], only_a, time.monotonic() + 1)
    started = time.monotonic()
    assert leases.acquire(["a"], lambda busy: None, started + 0.3) is None
    assert 0.25 <= time.monotonic() - started < 2


def test_no_limit(store):
    leases = _leases(store, per_account=0)
    for _ in range(3):
        assert leases.acquire(["a"], lambda busy: "a", time.monotonic()) is not None
    assert not leases.busy("a")


def test_releasing_twice_is_harmless(store):
    leases = _leases(store)
    lease = leases.acquire(["a"], only_a, time.monotonic() + 1)
    lease.release()
    lease.release()
    assert leases.in_flight("a") == 0


def test_the_minimum_interval_spaces_answers(store):
    leases = _leases(store, min_interval=0.5)
    leases.acquire(["a"], lambda busy: "a", time.monotonic() + 1).release()
    started = time.monotonic()
    assert leases.acquire(["a"], lambda busy: "a", started + 3) is not None
    assert time.monotonic() - started >= 0.4


def test_a_lease_of_a_crashed_holder_expires(backend):
    crashed, alive = backend.open(), backend.open()
    try:
        assert crashed.acquire_lease("fp-a", "gone-process", ttl=1.0)  # never released
        started = time.monotonic()
        lease = _leases(alive, ttl=1.0).acquire(["a"], only_a, started + 5)
        assert lease is not None and time.monotonic() - started < 2.5
    finally:
        crashed.close()
        alive.close()


def test_a_held_lease_is_renewed_while_the_answer_lasts(store):
    leases = _leases(store, ttl=1.0)
    lease = leases.acquire(["a"], only_a, time.monotonic() + 1)
    time.sleep(2.5)  # more than twice the ttl
    assert leases.in_flight("a") == 1
    lease.release()
    assert leases.in_flight("a") == 0
