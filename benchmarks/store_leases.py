"""Benchmark: the time of one lease acquire + release in the account store.

Measures ``acquire_lease`` followed by ``release_lease`` on one account, for the embedded store
(SQLite in a temporary directory) and for Redis on loopback (a redis-server of its own on a free
port), and prints the median and 95th percentile as a table. Goals: under 1 ms median with
SQLite, under 2 ms with Redis.

Run: ``python benchmarks/store_leases.py [--iterations 2000]``. Loopback only.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from kimiproxy.accounts import AccountStore, open_store
from kimiproxy.hosting.processes import free_port, stop
from kimiproxy.hosting.redis_process import redis_server_binary, start_redis

WARM_UP = 100


def measure(store: AccountStore, iterations: int) -> list[float]:
    """Seconds per acquire + release, after a warm-up."""
    timings = []
    for number in range(WARM_UP + iterations):
        holder = f"bench-{number}"
        start = time.perf_counter()
        if not store.acquire_lease("bench-account", holder, ttl=30, limit=1):
            raise RuntimeError("the benchmark account was busy: is another run using it?")
        store.release_lease("bench-account", holder)
        if number >= WARM_UP:
            timings.append(time.perf_counter() - start)
    return timings


def row(name: str, timings: list[float]) -> str:
    p50 = statistics.median(timings) * 1000
    p95 = statistics.quantiles(timings, n=100)[94] * 1000
    return f"| {name:<8} | {len(timings):>10} | {p50:>8.3f} | {p95:>8.3f} |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=2000)
    iterations = parser.parse_args().iterations

    rows = []
    with tempfile.TemporaryDirectory() as directory:
        store = open_store(f"sqlite://{Path(directory) / 'state.db'}")
        rows.append(row("sqlite", measure(store, iterations)))
        store.close()

    if redis_server_binary() is None:
        rows.append(f"| {'redis':<8} | {'skipped: redis-server is not installed':>32} |")
    else:
        port = free_port()
        server = start_redis(port)
        try:
            store = open_store(f"redis://127.0.0.1:{port}/0", prefix="bench:")
            rows.append(row("redis", measure(store, iterations)))
            store.close()
        finally:
            stop(server)

    print("| backend  | iterations | p50 (ms) | p95 (ms) |")
    print("|----------|------------|----------|----------|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
