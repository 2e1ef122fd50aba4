"""Fixtures for the suite's own tests: fake OpenAI servers (correct or broken) on loopback."""

from __future__ import annotations

from contextlib import ExitStack

import pytest
from kimiproxy_conformance.node_runner import NODE_DIR, find_node

from .fake_openai import FakeServer, serve


@pytest.fixture(scope="session")
def fake_server():
    """``fake_server(*defects)``: a running fake server with those defects (one per set, reused)."""
    running: dict[frozenset[str], FakeServer] = {}
    with ExitStack() as stack:

        def factory(*defects: str) -> FakeServer:
            key = frozenset(defects)
            if key not in running:
                running[key] = stack.enter_context(serve(*defects))
            return running[key]

        yield factory


@pytest.fixture(scope="session")
def reference_server(fake_server) -> FakeServer:
    return fake_server()


@pytest.fixture(scope="session")
def node_ready() -> bool:
    """Whether the Node rows can run here (node on the PATH and the npm package installed)."""
    return find_node() is not None and (NODE_DIR / "node_modules" / "openai").is_dir()
