"""Fixtures for unit tests: an app with a scripted upstream client and a Flask test client."""

from __future__ import annotations

import pytest

from kimiproxy import testing
from kimiproxy.testing import ScriptedClient


@pytest.fixture
def scripted():
    return ScriptedClient()


@pytest.fixture
def make_app(scripted):
    """``make_app(**settings)``: the app answering through ``scripted``."""

    def factory(**settings):
        return testing.make_app(settings=settings, client=scripted)

    return factory


@pytest.fixture
def http(make_app):
    app = make_app()
    test_client = app.test_client()
    test_client.environ_base["HTTP_AUTHORIZATION"] = "Bearer tok-a"
    return test_client
