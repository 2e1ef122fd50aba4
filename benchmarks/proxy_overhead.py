"""Benchmark: what kimiproxy adds on top of a direct call to the Kimi emulator.

Starts the emulator and kimiproxy (gunicorn, gevent worker) on loopback, then measures for each
protocol (``connect`` and ``rest``):
- non-streamed answers: median wall time through the proxy vs. the same answer read directly from
  the emulator's stream endpoint (ratio, which holds on noisy machines);
- streamed answers: time to the first content byte, proxy vs. direct;
- concurrency: N simultaneous streamed requests through one worker;
- memory: the proxy worker's resident set size before and after the run.

Run: ``python benchmarks/proxy_overhead.py [--requests 50] [--concurrency 20]``. Loopback only.
"""

from __future__ import annotations

import argparse
import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

from kimiproxy.hosting.processes import free_port, start_emulator, start_proxy, stop
from kimiproxy.upstream.connect.framing import EnvelopeDecoder, encode_envelope

TOKEN = "benchmark-token"
# The direct calls hold a login of their own: the proxy rotates its token, as Kimi has it.
DIRECT_TOKEN = "benchmark-direct-token"
PROMPT = "benchmark " * 20


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def worker_pids(master_pid: int) -> list[int]:
    children = Path(f"/proc/{master_pid}/task/{master_pid}/children")
    return [int(p) for p in children.read_text().split()] if children.exists() else []


def direct_rest(emulator: str) -> tuple[float, float]:
    """Create a chat, read its answer stream, delete it: what the proxy does, minus the proxy."""
    session = requests.Session()
    start = time.perf_counter()
    token = session.get(
        f"{emulator}/api/auth/token/refresh", headers={"Authorization": f"Bearer {DIRECT_TOKEN}"}
    ).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    chat = session.post(
        f"{emulator}/api/chat",
        headers=headers,
        json={
            "enter_method": "new_chat",
            "is_example": False,
            "kimiplus_id": "kimi",
            "name": "bench",
        },
    ).json()["id"]
    first = None
    with session.post(
        f"{emulator}/api/chat/{chat}/completion/stream",
        headers=headers,
        stream=True,
        json={"kimiplus_id": "kimi", "messages": [{"role": "user", "content": PROMPT}]},
    ) as answer:
        for line in answer.iter_lines():
            if first is None and b'"cmpl"' in line:
                first = time.perf_counter() - start
    session.delete(f"{emulator}/api/chat/{chat}", headers=headers)
    return time.perf_counter() - start, first or 0.0


def direct_connect(emulator: str) -> tuple[float, float]:
    session = requests.Session()
    start = time.perf_counter()
    token = session.get(
        f"{emulator}/api/auth/token/refresh", headers={"Authorization": f"Bearer {DIRECT_TOKEN}"}
    ).json()["access_token"]
    headers = {
        "Authorization": f"Bearer {token}",
        "Content-Type": "application/connect+json",
        "Connect-Protocol-Version": "1",
    }
    body = encode_envelope(
        {
            "scenario": "SCENARIO_K2D5",
            "message": {
                "role": "user",
                "blocks": [{"message_id": "", "text": {"content": PROMPT}}],
            },
        }
    )
    first, chat_id, decoder = None, None, EnvelopeDecoder()
    with session.post(
        f"{emulator}/apiv2/kimi.gateway.chat.v1.ChatService/Chat",
        data=body,
        headers=headers,
        stream=True,
    ) as answer:
        for chunk in answer.iter_content(None):
            for _flags, frame in decoder.feed(chunk):
                if chat_id is None and "chat" in frame:
                    chat_id = frame["chat"].get("id")
                if first is None and frame.get("mask") == "block.text.content":
                    first = time.perf_counter() - start
    session.post(
        f"{emulator}/apiv2/kimi.chat.v1.ChatService/DeleteChat",
        json={"chat_id": chat_id},
        headers={"Authorization": f"Bearer {token}"},
    )
    return time.perf_counter() - start, first or 0.0


def through_proxy(proxy: str, token: str = TOKEN) -> tuple[float, float]:
    start = time.perf_counter()
    first = None
    with requests.post(
        f"{proxy}/v1/chat/completions",
        stream=True,
        headers={"Authorization": f"Bearer {token}"},
        json={"model": "kimi", "stream": True, "messages": [{"role": "user", "content": PROMPT}]},
    ) as answer:
        if answer.status_code != 200:  # a figure of a failed answer would be no figure
            raise RuntimeError(f"the proxy answered {answer.status_code}: {answer.text[:200]}")
        for line in answer.iter_lines():
            if first is None and b'"content":"' in line and b'"content":""' not in line:
                first = time.perf_counter() - start
    return time.perf_counter() - start, first or 0.0


def measure(call, target: str, count: int) -> tuple[float, float]:
    call(target)  # warm up connections and token caches
    totals, firsts = zip(*(call(target) for _ in range(count)), strict=True)
    return statistics.median(totals), statistics.median(firsts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--concurrency", type=int, default=20)
    options = parser.parse_args()
    emulator_port = free_port()
    emulator_process = start_emulator(emulator_port)
    emulator = f"http://127.0.0.1:{emulator_port}"
    try:
        for protocol, direct in (("connect", direct_connect), ("rest", direct_rest)):
            # A new login for each run: the previous proxy rotated the tokens it used.
            requests.post(f"{emulator}/_emulator/reset", timeout=5).raise_for_status()
            port = free_port()
            proxy_process = start_proxy(
                port, {"KIMIPROXY_UPSTREAM": emulator, "KIMIPROXY_PROTOCOL": protocol}
            )
            proxy = f"http://127.0.0.1:{port}"
            try:
                workers = worker_pids(proxy_process.pid)
                rss_before = sum(rss_kib(p) for p in workers)
                direct_total, direct_first = measure(direct, emulator, options.requests)
                proxy_total, proxy_first = measure(through_proxy, proxy, options.requests)
                n = options.concurrency
                accounts = [f"{TOKEN}-{i}" for i in range(n)]
                for account in accounts:  # exchange each refresh token before timing
                    through_proxy(proxy, account)
                started = time.perf_counter()
                with ThreadPoolExecutor(options.concurrency) as pool:
                    # One account each: Kimi streams one answer per account at a time.
                    list(pool.map(through_proxy, [proxy] * n, accounts))
                concurrent = time.perf_counter() - started
                rss_after = sum(rss_kib(p) for p in workers)
                served = options.requests * 2 + 2 + 2 * n
                print(
                    f"[{protocol}] whole answer: direct {direct_total * 1000:.1f} ms, "
                    f"proxy {proxy_total * 1000:.1f} ms, ratio {proxy_total / direct_total:.2f}"
                )
                print(
                    f"[{protocol}] first content byte: direct {direct_first * 1000:.1f} ms, "
                    f"proxy {proxy_first * 1000:.1f} ms, ratio {proxy_first / direct_first:.2f}"
                )
                print(
                    f"[{protocol}] {n} concurrent streams on {n} accounts: "
                    f"{concurrent * 1000:.0f} ms in all, "
                    f"{concurrent / options.concurrency / proxy_total:.2f}× a lone one each"
                )
                print(
                    f"[{protocol}] worker RSS: {rss_before / 1024:.1f} MiB before, "
                    f"{rss_after / 1024:.1f} MiB after {served} requests"
                )
            finally:
                stop(proxy_process)
    finally:
        stop(emulator_process)


if __name__ == "__main__":
    main()
