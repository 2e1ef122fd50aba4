"""Without redis-server the Redis half of these tests is skipped on a developer's machine but
fails on CI, where .ci/run installs it."""

from __future__ import annotations

import pytest

from tests.accounts import conftest


def test_missing_redis_server_skips_locally(monkeypatch):
    monkeypatch.setattr(conftest, "redis_server_binary", lambda: None)
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="apt-get install redis-server"):
        conftest.require_redis_server()


def test_missing_redis_server_fails_on_ci(monkeypatch):
    monkeypatch.setattr(conftest, "redis_server_binary", lambda: None)
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="missing on CI"):
        conftest.require_redis_server()


def test_present_redis_server_is_used(monkeypatch):
    monkeypatch.setattr(conftest, "redis_server_binary", lambda: "/usr/bin/redis-server")
    monkeypatch.setenv("CI", "true")
    assert conftest.require_redis_server() is None
