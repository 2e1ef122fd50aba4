"""Fixtures: each test runs against both backends, SQLite in a temporary directory and a real
``redis-server`` on loopback (one per session, a fresh key prefix per test)."""

from __future__ import annotations

import os
import sqlite3
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis

from kimiproxy.accounts import AccountStore, open_store
from kimiproxy.hosting.processes import free_port, stop
from kimiproxy.hosting.redis_process import redis_server_binary, start_redis

BACKENDS = ["sqlite", "redis"]


def require_redis_server() -> None:
    """Skip without ``redis-server`` on a developer's machine; on CI (``CI`` set) its absence
    is a failure, since ``.ci/run`` installs it."""
    if redis_server_binary() is not None:
        return
    if os.environ.get("CI"):
        pytest.fail("redis-server is missing on CI: .ci/run should have installed it")
    pytest.skip("redis-server is not installed (Debian: apt-get install redis-server)")


@pytest.fixture(scope="session")
def redis_url():
    require_redis_server()
    process = start_redis(free_port())
    port = process.args[process.args.index("--port") + 1]
    try:
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        stop(process)


@dataclass
class Backend:
    """Where one test's store lives, so several store objects (workers, processes) can open
    it, and what it holds can be read raw."""

    name: str
    url: str
    prefix: str | None = None
    path: Path | None = None

    def open(self, secret_key: str | None = None) -> AccountStore:
        return open_store(self.url, secret_key=secret_key, prefix=self.prefix)

    def raw_bytes(self) -> bytes:
        """Everything stored, as bytes: the SQLite files, or every Redis value under the
        prefix."""
        if self.path is not None:
            files = [self.path, Path(f"{self.path}-wal"), Path(f"{self.path}-shm")]
            return b"".join(file.read_bytes() for file in files if file.exists())
        client = redis.Redis.from_url(self.url)
        try:
            return b"".join(
                client.dump(key) or b"" for key in client.scan_iter(match=f"{self.prefix}*")
            )
        finally:
            client.close()

    def raw_refresh_token(self, fingerprint: str) -> str:
        """The ``refresh_token`` field as stored."""
        if self.path is not None:
            with sqlite3.connect(self.path) as db:
                row = db.execute(
                    "SELECT refresh_token FROM accounts WHERE fingerprint = ?", (fingerprint,)
                ).fetchone()
            return row[0]
        client = redis.Redis.from_url(self.url, decode_responses=True)
        try:
            return client.hget(f"{self.prefix}account:{fingerprint}", "refresh_token")
        finally:
            client.close()


@pytest.fixture(params=BACKENDS)
def backend(request, tmp_path) -> Backend:
    if request.param == "sqlite":
        path = tmp_path / "state" / "state.db"
        return Backend("sqlite", f"sqlite://{path}", path=path)
    url = request.getfixturevalue("redis_url")
    return Backend("redis", url, prefix=f"test-{uuid.uuid4().hex[:8]}:")


@pytest.fixture
def store(backend):
    opened = backend.open()
    try:
        yield opened
    finally:
        opened.close()
