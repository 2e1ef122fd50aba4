"""Several processes competing for one account never hold more leases than its limit."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROCESSES, ROUNDS = 4, 50


@pytest.mark.parametrize("limit", [1, 2])
def test_processes_never_exceed_the_limit(backend, tmp_path, limit):
    backend.open().close()  # the file and schema exist before the race starts
    counter = tmp_path / "counter"
    counter.write_text("0 0 0")
    command = [sys.executable, "-m", "tests.accounts.contender", backend.url]
    command += [backend.prefix or "", "acc", str(limit), str(ROUNDS), str(counter)]
    processes = [subprocess.Popen(command, cwd=ROOT) for _ in range(PROCESSES)]
    codes = [process.wait(120) for process in processes]
    now, most, total = (int(n) for n in counter.read_text().split())
    assert codes == [0] * PROCESSES
    assert total == PROCESSES * ROUNDS and now == 0
    assert 1 <= most <= limit
    assert backend.open().in_flight("acc") == 0
