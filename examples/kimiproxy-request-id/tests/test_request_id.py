"""The plugin's own tests, as its author writes them: ``kimiproxy.testing`` builds the real app
with the plugin registered before start-up, answering through a scripted Kimi."""

from __future__ import annotations

import logging
import re

import kimiproxy_request_id
import pytest

from kimiproxy import hookimpl, testing
from kimiproxy.errors import InvalidRequest, RateLimited

CHAT = {"messages": [{"role": "user", "content": "hi"}]}
AUTH = {"Authorization": "Bearer tok-a,tok-b"}


def post(app, **body):
    return app.test_client().post("/v1/chat/completions", json={**CHAT, **body}, headers=AUTH)


@pytest.mark.parametrize("stream", [False, True])
def test_the_answer_carries_the_id_its_log_lines_name(caplog, stream):
    caplog.set_level(logging.INFO)
    client = testing.ScriptedClient(
        testing.in_turns(RateLimited("throttled"), testing.answer("ok"))
    )
    response = post(testing.make_app(plugins=[kimiproxy_request_id], client=client), stream=stream)
    assert response.status_code == 200
    request_id = response.headers["X-Request-Id"]
    assert re.fullmatch(r"[0-9a-f]{12}", request_id)
    logged = [r.getMessage() for r in caplog.records if r.getMessage().startswith("request ")]
    assert len(logged) == 2  # the failed attempt and the answer
    assert all(line.startswith(f"request {request_id}: ") for line in logged)


def test_a_request_refused_by_another_plugin_carries_its_id_too():
    class Refuse:
        @hookimpl
        def kimiproxy_prepare_request(self, context):
            raise InvalidRequest("not today")

    app = testing.make_app(plugins=[Refuse(), kimiproxy_request_id])
    response = post(app)
    assert response.status_code == 400 and re.fullmatch(
        r"[0-9a-f]{12}", response.headers["X-Request-Id"]
    )


def test_other_routes_get_no_id():
    app = testing.make_app(plugins=[kimiproxy_request_id])
    assert "X-Request-Id" not in app.test_client().get("/v1/models").headers


def test_the_header_name_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("REQUEST_ID_HEADER", "X-Kimi-Request")
    response = post(testing.make_app(plugins=[kimiproxy_request_id]))
    assert "X-Request-Id" not in response.headers and response.headers["X-Kimi-Request"]


def test_a_bad_header_name_stops_the_start(monkeypatch):
    monkeypatch.setenv("REQUEST_ID_HEADER", "Request Id")
    with pytest.raises(ValueError, match="REQUEST_ID_HEADER: 'Request Id' is not an HTTP header"):
        testing.make_app(plugins=[kimiproxy_request_id])
