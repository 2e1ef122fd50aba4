"""Starting a ``redis-server`` on loopback (tests, benchmarks): throw-away by default (no
snapshots, no append-only file, gone when stopped), or keeping an append-only file in a
directory, so that what it holds survives a restart."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path


def redis_server_binary() -> str | None:
    return shutil.which("redis-server")


def start_redis(
    port: int, *, timeout: float = 10.0, data_dir: Path | None = None
) -> subprocess.Popen:
    """``redis-server`` on ``127.0.0.1:port``, once it answers ``PING``; with ``data_dir``, an
    append-only file there (``appendonly yes``, as production runs it)."""
    binary = redis_server_binary()
    if binary is None:
        raise RuntimeError("redis-server is not installed (Debian: apt-get install redis-server)")
    command = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
    if data_dir is None:
        command += ["--appendonly", "no"]
    else:
        Path(data_dir).mkdir(parents=True, exist_ok=True)
        command += ["--appendonly", "yes", "--dir", str(data_dir)]
    command += ["--protected-mode", "yes", "--loglevel", "warning"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"redis-server on port {port} exited with {process.returncode}")
        if _answers_ping(port):
            return process
        time.sleep(0.05)
    process.kill()
    process.wait()
    raise RuntimeError(f"redis-server on port {port} did not answer within {timeout} s")


def _answers_ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as connection:
            connection.sendall(b"PING\r\n")
            return connection.recv(16).startswith(b"+PONG")
    except OSError:
        return False
