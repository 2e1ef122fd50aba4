"""Benchmark: what sharing Kimi accounts through the account store costs.

Prints two tables, for the embedded store (SQLite) and Redis on loopback:
- the time one lease + release takes in the store (``store_leases.py``), next to a whole answer
  read directly from the emulator and one through the proxy on that backend, per protocol;
- the upstream calls per completion when 10 streams arrive at once on ONE account through
  proxies with 2 gevent workers (one instance on SQLite; one and two instances on one Redis),
  per protocol. The goal is Kimi's minimum, 2 on ``connect`` (chat, delete) and 3 on ``rest``
  (create, completion, delete): a request waits for the lease instead of asking Kimi and being
  told the account is busy. Token exchanges (a worker's first use of the token: the refresh,
  and on ``rest`` ``GET /api/user``) and busy refusals are counted apart.

Run: ``python benchmarks/accounts.py [--requests 30] [--streams 10]``. Loopback only; needs
``redis-server``.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests
from proxy_overhead import direct_connect, direct_rest, measure, through_proxy
from store_leases import measure as lease_timings

from kimiproxy.accounts import open_store
from kimiproxy.hosting.processes import free_port, start_emulator, start_proxy, stop
from kimiproxy.hosting.redis_process import start_redis

# A worker's first use of a token: exchanging it (and, on rest, asking who it is).
TOKEN_PATHS = (
    "/api/auth/token/refresh",
    "/api/account.gateway.v1.AuthService/RefreshToken",
    "/api/user",
)
DIRECT = {"connect": direct_connect, "rest": direct_rest}


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f}"


def start_proxies(emulator: str, protocol: str, state: str, instances: int) -> list:
    env = {"KIMIPROXY_UPSTREAM": emulator, "KIMIPROXY_PROTOCOL": protocol}
    env["KIMIPROXY_LOAD_ENTRYPOINT_PLUGINS"] = "false"
    processes = []
    shared_dir = tempfile.mkdtemp(prefix="kimiproxy-bench-")  # SQLite: shared by the workers
    for _ in range(instances):
        port = free_port()
        settings = {**env, "KIMIPROXY_STATE": state, "KIMIPROXY_DATA_DIR": shared_dir}
        processes.append((f"http://127.0.0.1:{port}", start_proxy(port, settings, workers=2)))
    return processes


def calls_per_completion(emulator: str, urls: list[str], streams: int, token: str) -> dict:
    """Ten (``streams``) answers at once on one account: the emulator's calls per answer."""
    for url in urls:  # exchange the refresh token first, as a running proxy already has
        through_proxy(url, token)
    requests.post(f"{emulator}/_emulator/reset", timeout=5).raise_for_status()
    started = time.perf_counter()
    with ThreadPoolExecutor(streams) as pool:
        list(
            pool.map(
                through_proxy, [urls[n % len(urls)] for n in range(streams)], [token] * streams
            )
        )
    took = time.perf_counter() - started
    calls = requests.get(f"{emulator}/_emulator/calls", timeout=5).json()["calls"]
    history = requests.get(f"{emulator}/_emulator/stream_history", timeout=5).json()["streams"]
    kimi = [c for c in calls if c["protocol"] != "control"]
    exchanges = [c for c in kimi if c["path"] in TOKEN_PATHS]
    return {
        "per": (len(kimi) - len(exchanges)) / streams,
        "exchanges": len(exchanges),
        "busy": sum(1 for entry in history if entry["refused"]),
        "seconds": took,
    }


def table(headers: list[str], rows: list[list[str]]) -> str:
    """A Markdown table, columns as wide as their widest cell."""
    columns = zip(headers, *rows, strict=True)
    widths = [max(len(str(cell)) for cell in column) for column in columns]
    lines = [headers, ["-" * width for width in widths], *rows]
    cells = (zip(line, widths, strict=True) for line in lines)
    return "\n".join("| " + " | ".join(str(c).rjust(w) for c, w in row) + " |" for row in cells)


def lease_medians(backends: dict[str, str], iterations: int) -> dict[str, float]:
    medians = {}
    for name, url in backends.items():
        store = open_store(url, prefix="bench:") if name == "redis" else open_store(url)
        medians[name] = statistics.median(lease_timings(store, iterations))
        store.close()
    return medians


def run(emulator: str, redis_url: str, lease: dict[str, float], options) -> tuple[list, list]:
    costs, calls = [], []
    for protocol in ("connect", "rest"):
        direct = measure(DIRECT[protocol], emulator, options.requests)[0]
        for backend, state, instances in (("sqlite", "", 1), ("redis", redis_url, 1)):
            started = start_proxies(emulator, protocol, state, instances)
            try:
                urls = [url for url, _ in started]
                proxied = measure(through_proxy, urls[0], options.requests)[0]
                token = f"bench-one-account-{protocol}-{backend}-{instances}"
                counted = calls_per_completion(emulator, urls, options.streams, token)
            finally:
                for _, process in started:
                    stop(process)
            costs.append([protocol, backend, ms(lease[backend]), ms(direct), ms(proxied)])
            costs[-1].append(f"{lease[backend] / proxied:.1%}")
            calls.append([protocol, backend, instances, counted])
        started = start_proxies(emulator, protocol, redis_url, 2)
        try:
            urls = [url for url, _ in started]
            token = f"bench-one-account-{protocol}-redis-2"
            calls.append(
                [protocol, "redis", 2, calls_per_completion(emulator, urls, options.streams, token)]
            )
        finally:
            for _, process in started:
                stop(process)
    return costs, calls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=30)
    parser.add_argument("--streams", type=int, default=10)
    parser.add_argument("--iterations", type=int, default=1000)
    options = parser.parse_args()
    emulator_port, redis_port = free_port(), free_port()
    emulator_process = start_emulator(emulator_port)
    redis_process = start_redis(redis_port)
    emulator = f"http://127.0.0.1:{emulator_port}"
    redis_url = f"redis://127.0.0.1:{redis_port}/0"
    try:
        with tempfile.TemporaryDirectory() as directory:
            backends = {"sqlite": f"sqlite://{Path(directory) / 'state.db'}", "redis": redis_url}
            lease = lease_medians(backends, options.iterations)
        costs, calls = run(emulator, redis_url, lease, options)
    finally:
        stop(redis_process)
        stop(emulator_process)

    headers = ["protocol", "backend", "lease+release p50 (ms)", "direct answer p50 (ms)"]
    headers += ["proxy answer p50 (ms)", "lease / proxy answer"]
    print(table(headers, costs))
    print()
    print(f"{options.streams} concurrent streams on one account, 2 workers per instance:")
    headers = ["protocol", "backend", "instances", "upstream calls per completion"]
    headers += ["token exchange calls", "busy refusals", "wall (s)"]
    rows = [
        [protocol, backend, instances, f"{c['per']:.1f}", c["exchanges"], c["busy"]]
        + [f"{c['seconds']:.2f}"]
        for protocol, backend, instances, c in calls
    ]
    print(table(headers, rows))


if __name__ == "__main__":
    main()
