"""Fixtures for unit tests: an app with a scripted upstream client and a Flask test client."""

from __future__ import annotations

import pytest

from kimiproxy import create_app

from .fake_client import ScriptedClient


@pytest.fixture
def scripted():
    return ScriptedClient()


@pytest.fixture
def make_app(scripted):
    def factory(**config):
        config.setdefault("LOAD_ENTRYPOINT_PLUGINS", False)
        return create_app(config, client=scripted)

    return factory


@pytest.fixture
def http(make_app):
    app = make_app()
    test_client = app.test_client()
    test_client.environ_base["HTTP_AUTHORIZATION"] = "Bearer tok-a"
    return test_client
