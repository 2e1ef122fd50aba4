"""Helpers for the account concurrency tests: proxies with several workers or instances in front
of the emulator, a Redis of their own, concurrent streams, and what the emulator's stream
history says about them."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import time
import uuid
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import requests

from kimiproxy.hosting.processes import free_port, start_proxy, stop
from kimiproxy.hosting.redis_process import start_redis
from tests.secret_scan import SecretScan

CHAT_PATHS = ("/apiv2/kimi.gateway.chat.v1.ChatService/Chat", "/completion/stream")
SLOW = "[[fault:slow_chunks]]"


def tokens(count: int, label: str) -> list[str]:
    """``count`` client-held Kimi tokens (plain refresh tokens) no other test uses."""
    run = uuid.uuid4().hex[:8]
    return [f"concurrency-{label}-{run}-{n}" for n in range(count)]


def emulator_account(token: str) -> str:
    """The emulator's account id for a plain refresh token (``docs/emulator.md``)."""
    return hashlib.sha256(token.encode()).hexdigest()[:20]


@dataclass
class Instance:
    """One running proxy (a gunicorn master and its workers)."""

    url: str
    process: subprocess.Popen

    def kill(self) -> None:
        """``kill -9`` the workers, then the master: no cleanup runs anywhere."""
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        for pid in children.read_text().split():
            os.kill(int(pid), signal.SIGKILL)
        self.process.kill()
        self.process.wait()


@dataclass
class Cluster:
    """Proxies started for one module, stopped together; logs go to the run's scan."""

    emulator_url: str
    scan: SecretScan
    started: list[Instance] = field(default_factory=list)

    def start(self, protocol: str, *, workers: int = 2, **env: str) -> Instance:
        settings = {
            "KIMIPROXY_UPSTREAM": self.emulator_url,
            "KIMIPROXY_PROTOCOL": protocol,
            "KIMIPROXY_LOAD_ENTRYPOINT_PLUGINS": "false",
            # Everything a proxy logs is scanned for secrets: let it log everything.
            "KIMIPROXY_LOG_LEVEL": "DEBUG",
            **env,
        }
        self.scan.add_settings(settings)
        port = free_port()
        log = self.scan.log_file(f"proxy-{protocol}-{workers}w")
        process = start_proxy(port, settings, workers=workers, log=log)
        instance = Instance(f"http://127.0.0.1:{port}", process)
        self.started.append(instance)
        return instance

    def stop_all(self) -> None:
        for instance in reversed(self.started):
            stop(instance.process)


@contextmanager
def own_redis(port: int | None = None, *, data_dir: Path | None = None):
    """A ``redis-server`` of the caller's own; ``data_dir`` keeps an append-only file there, so
    what it holds survives a restart on the same port."""
    port = port or free_port()
    process = start_redis(port, data_dir=data_dir)
    try:
        yield port, process
    finally:
        stop(process)


def ask(
    url: str, credentials: list[str], content: str, *, stream: bool = True, timeout: float = 60
) -> tuple[int, dict, object]:
    """One chat completion with the client-held ``credentials``: ``(status, headers, text)``;
    the text of a stream is its deltas joined."""
    user_message = {"role": "user", "content": content}
    response = requests.post(
        f"{url}/v1/chat/completions",
        headers={"Authorization": f"Bearer {','.join(credentials)}"},
        json={"model": "kimi", "stream": stream, "messages": [user_message]},
        stream=stream,
        timeout=timeout,
    )
    with response:
        if response.status_code != 200 or not stream:
            return response.status_code, response.headers, response.json()
        text = []
        for line in response.iter_lines():
            if line.startswith(b"data: ") and line != b"data: [DONE]":
                chunk = json.loads(line[6:])
                if "error" in chunk:
                    return 502, response.headers, chunk
                for choice in chunk.get("choices", []):
                    text.append(choice.get("delta", {}).get("content") or "")
        return 200, response.headers, "".join(text)


def ask_many(jobs: list[tuple[str, list[str], str]]) -> list[tuple]:
    """All ``(url, credentials, content)`` jobs at once, each in its own thread."""
    with ThreadPoolExecutor(len(jobs)) as pool:
        return list(pool.map(lambda job: ask(*job), jobs))


def stream_history(emulator_url: str) -> list[dict]:
    response = requests.get(f"{emulator_url}/_emulator/stream_history", timeout=5)
    response.raise_for_status()
    return response.json()["streams"]


def overlaps(history: list[dict]) -> list[tuple[dict, dict]]:
    """Pairs of granted streams of one account that were open at the same time."""
    by_account = defaultdict(list)
    for entry in history:
        if not entry["refused"]:
            by_account[entry["account"]].append(entry)
    pairs = []
    for entries in by_account.values():
        entries.sort(key=lambda entry: entry["started_at"])
        for before, after in zip(entries, entries[1:], strict=False):
            if before["ended_at"] is None or after["started_at"] < before["ended_at"]:
                pairs.append((before, after))
    return pairs


def chat_calls(emulator_url: str) -> list[dict]:
    """The answer-stream calls the emulator received (``connect`` Chat, ``rest`` completion)."""
    response = requests.get(f"{emulator_url}/_emulator/calls", timeout=5)
    response.raise_for_status()
    return [c for c in response.json()["calls"] if c["path"].endswith(CHAT_PATHS)]


def wait_for_stream(emulator_url: str, timeout: float = 10.0) -> None:
    """Until the emulator has an answer stream open."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if requests.get(f"{emulator_url}/_emulator/streams", timeout=5).json()["streams"]:
            return
        time.sleep(0.05)
    raise AssertionError("no answer stream opened")
