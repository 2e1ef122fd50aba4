"""Run jobs through the official ``openai`` npm package by way of ``node node/runner.mjs``.

All Node jobs of a run go to one ``node`` process: the jobs as JSON on stdin, the outcomes as
JSON on stdout. Without ``node`` on the PATH, or without the npm package installed, the Node rows
are SKIPPED with the reason and the command that fixes it; they never pass.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

NODE_DIR = Path(__file__).with_name("node")
RUNNER = NODE_DIR / "runner.mjs"
STARTUP_ALLOWANCE = 60.0


def install_command(directory: Path | None = None) -> str:
    """The command that installs the ``openai`` npm package: beside the runner by default (from
    the lock file when it is there), or into ``directory``."""
    if directory is None or Path(directory).resolve() == NODE_DIR.resolve():
        verb = "ci" if (NODE_DIR / "package-lock.json").is_file() else "install"
        return f"npm {verb} --prefix {NODE_DIR} --no-audit --no-fund"
    manifest = json.loads((NODE_DIR / "package.json").read_text(encoding="utf-8"))
    wanted = manifest["dependencies"]["openai"]
    return f"npm install --prefix {directory} --no-audit --no-fund 'openai@{wanted}'"


@dataclass
class NodeBatch:
    """Outcomes by job id, or why the whole batch was skipped or failed."""

    results: dict[str, dict] = field(default_factory=dict)
    skip_reason: str | None = None
    failure: str | None = None
    sdk_version: str | None = None


def find_node(explicit: str | None = None) -> str | None:
    """The ``node`` binary: ``explicit`` if it exists, else ``node`` on the PATH."""
    if explicit:
        return shutil.which(explicit) or (explicit if Path(explicit).is_file() else None)
    return shutil.which("node")


def run_batch(
    jobs: list[dict], *, node: str | None = None, node_modules: Path | None = None
) -> NodeBatch:
    """Run ``jobs`` in one Node process; see the module docstring for the protocol."""
    if not jobs:
        return NodeBatch()
    exe = find_node(node)
    if exe is None:
        wanted = f"{node!r} was not found" if node else "`node` is not on the PATH"
        reason = f"Node.js is absent ({wanted}); install Node.js 20+ to run the Node SDK rows"
        return NodeBatch(skip_reason=reason)
    payload = json.dumps(
        {"node_modules": str(node_modules) if node_modules else None, "jobs": jobs}
    )
    budget = STARTUP_ALLOWANCE + sum(
        job["timeout"] * (job["max_retries"] + 1) + 2 * job["max_retries"] for job in jobs
    )
    try:
        proc = subprocess.run(
            [exe, str(RUNNER)],
            input=payload.encode("utf-8"),
            capture_output=True,
            timeout=budget,
            cwd=str(NODE_DIR),
            check=False,
        )
    except subprocess.TimeoutExpired:
        return NodeBatch(failure=f"the Node runner did not finish within {budget:.0f} s")
    except OSError as exc:
        return NodeBatch(skip_reason=f"cannot start Node.js ({exe}): {exc}")
    stderr = proc.stderr.decode("utf-8", errors="replace").strip()
    try:
        answer = json.loads(proc.stdout.decode("utf-8"))
    except ValueError:
        tail = stderr[-1500:] or "(no output)"
        return NodeBatch(
            failure=f"the Node runner exited {proc.returncode} without a result: {tail}"
        )
    if "fatal" in answer:
        reason = f"{answer['fatal']}; install it with: {install_command(node_modules)}"
        return NodeBatch(skip_reason=reason)
    return NodeBatch(results=answer.get("results", {}), sdk_version=answer.get("sdk_version"))
