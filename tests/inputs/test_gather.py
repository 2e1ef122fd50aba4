"""Concurrent calls in greenlets: order kept, overlap, the first failure cancels the rest."""

from __future__ import annotations

import time

import gevent
import pytest

from kimiproxy.inputs import gather


def test_results_in_call_order_and_concurrent():
    finished = []

    def call(value, delay):
        def run():
            gevent.sleep(delay)
            finished.append(value)
            return value

        return run

    started = time.monotonic()
    assert gather([call("a", 0.3), call("b", 0.2), call("c", 0.1)], limit=3) == ["a", "b", "c"]
    assert time.monotonic() - started < 0.5
    assert finished == ["c", "b", "a"]


def test_limit_bounds_concurrency():
    running, peak = [0], [0]

    def run():
        running[0] += 1
        peak[0] = max(peak[0], running[0])
        gevent.sleep(0.02)
        running[0] -= 1
        return True

    assert gather([run] * 7, limit=2) == [True] * 7
    assert peak[0] == 2


def test_first_failure_kills_the_rest_and_discards_finished_results():
    interrupted, discarded = [], []

    def quick():
        return "quick"

    def slow():
        try:
            gevent.sleep(5)
        except gevent.GreenletExit:
            interrupted.append("slow")
            raise
        return "slow"

    def failing():
        gevent.sleep(0.05)
        raise ValueError("broken part")

    started = time.monotonic()
    with pytest.raises(ValueError, match="broken part"):
        gather([quick, slow, failing], limit=3, discard=discarded.append)
    assert time.monotonic() - started < 1
    assert interrupted == ["slow"]
    assert discarded == ["quick"]


def test_empty():
    assert gather([]) == []
