"""A waiter under gevent yields to the worker's other greenlets and is woken by a release."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_waiting_for_a_release_cooperates_with_gevent(backend):
    command = [sys.executable, "-m", "tests.accounts.gevent_waiter", backend.url]
    result = subprocess.run(
        [*command, backend.prefix or ""], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    woken, ticks = (part.split("=")[1] for part in result.stdout.split())
    assert woken == "True"
    # 0.5 s of waiting at one tick per 10 ms: a blocked hub would have let through a few.
    assert int(ticks) >= 20, result.stdout
