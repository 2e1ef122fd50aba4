"""Fixtures for the file-input unit tests: a local file server and fetch settings."""

from __future__ import annotations

import pytest

from kimiproxy.allow_list import parse_allow_list
from kimiproxy.inputs import FetchSettings

from .samples import FileServer


@pytest.fixture
def file_server():
    server = FileServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def settings():
    """Loopback allowed (the file server lives there), small limits, short timeouts."""
    return FetchSettings(
        max_bytes=64 * 1024,
        connect_timeout=2.0,
        read_timeout=2.0,
        total_timeout=5.0,
        max_redirects=3,
        allow=parse_allow_list("127.0.0.1"),
    )
