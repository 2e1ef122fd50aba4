"""Starting the emulator and the proxy as real gunicorn processes on loopback (demo, tests,
benchmarks), and waiting until they answer.

Their output goes to the terminal, nowhere (``quiet``), or appended to a log file (``log``): the
tests keep every proxy's log so that they can check, at the end of the run, that no line of it
carries a token.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests

from kimiproxy.emulator.options import option_argument


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_ready(url: str, process: subprocess.Popen, timeout: float = 30.0) -> None:
    """Poll ``url`` until it answers 2xx; fail early if the process died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server for {url} exited with status {process.returncode}")
        try:
            if requests.get(url, timeout=1).ok:
                return
        except requests.RequestException:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer within {timeout} s")


def start_emulator(
    port: int,
    options: dict[str, object] | None = None,
    *,
    quiet: bool = True,
    log: Path | None = None,
) -> subprocess.Popen:
    """One gevent worker: the emulator keeps its state in memory. ``options`` are the
    emulator's (``docs/emulator.md``); a bad one is a ``ValueError`` here, before anything
    starts."""
    command = [sys.executable, "-m", "kimiproxy.emulator", "--port", str(port)]
    for key, value in (options or {}).items():
        command += ["--option", option_argument(key, value)]
    process = _popen(command, os.environ.copy(), quiet, log)
    wait_ready(f"http://127.0.0.1:{port}/_emulator/calls", process)
    return process


def start_proxy(
    port: int,
    env: dict[str, str] | None = None,
    *,
    workers: int = 1,
    quiet: bool = True,
    log: Path | None = None,
) -> subprocess.Popen:
    """kimiproxy under gunicorn with its own ``gunicorn_conf`` (gevent workers). With ``log``,
    everything it writes, its access log included, is appended to that file."""
    environment = os.environ.copy()
    # A proxy started here keeps its account state apart from every other one, unless told.
    environment["KIMIPROXY_DATA_DIR"] = tempfile.mkdtemp(prefix="kimiproxy-state-")
    environment.update(env or {})
    environment.update({"KIMIPROXY_BIND": f"127.0.0.1:{port}", "KIMIPROXY_WORKERS": str(workers)})
    if quiet and log is None:
        environment.setdefault("KIMIPROXY_ACCESS_LOG", "/dev/null")
    command = [sys.executable, "-m", "gunicorn", "-c", "python:kimiproxy.hosting.gunicorn_conf"]
    process = _popen(command, environment, quiet, log)
    wait_ready(f"http://127.0.0.1:{port}/ping", process)
    return process


def _popen(
    command: list[str], env: dict[str, str], quiet: bool, log: Path | None
) -> subprocess.Popen:
    if log is None:
        output = subprocess.DEVNULL if quiet else None
        return subprocess.Popen(command, env=env, stdout=output, stderr=output)
    Path(log).parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as output:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(command, env=env, stdout=output, stderr=subprocess.STDOUT)


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextmanager
def running(*processes: subprocess.Popen) -> Iterator[None]:
    try:
        yield
    finally:
        for process in reversed(processes):
            stop(process)
