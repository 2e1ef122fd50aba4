"""Hostile answers cannot freeze a worker: every pathological shape of about a million characters
goes through the tool-call code well within a generous bound. A quadratic scan takes minutes on
these, so this is a freeze test, not a benchmark; each runs in a child process that is killed if
it hangs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from .hostile_answers import HOSTILE

ROOT = Path(__file__).resolve().parents[2]
BOUND = 2.0  # seconds; the linear code takes a few hundredths on this machine
HANG = 60.0  # seconds before the child is killed


@pytest.mark.parametrize("mode", ["whole", "stream"])
@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_a_hostile_answer_is_read_in_linear_time(name, mode):
    try:
        result = subprocess.run(
            [sys.executable, "-m", "tests.tools.hostile_answers", name, mode],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=HANG,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"{name} ({mode}): still running after {HANG:.0f} s")
    assert result.returncode == 0, result.stderr
    assert float(result.stdout) < BOUND, f"{name} ({mode}): {result.stdout.strip()} s"
