"""Third-party plugins found by their entry point, with the example package
(``examples/kimiproxy-request-id``, installed by the README's test command) as the plugin."""

from __future__ import annotations

import re
from importlib.metadata import entry_points

import pytest

import kimiproxy
from kimiproxy import testing

NAME = "request_id"
CHAT = {"messages": [{"role": "user", "content": "hi"}]}
AUTH = {"Authorization": "Bearer tok"}


@pytest.fixture(autouse=True)
def example_installed():
    found = [ep.value for ep in entry_points(group="kimiproxy") if ep.name == NAME]
    assert found == ["kimiproxy_request_id"], (
        "the example plugin is not installed: pip install -e examples/kimiproxy-request-id "
        "(the README's test command does)"
    )


def request_id_header(app) -> str | None:
    response = app.test_client().post("/v1/chat/completions", json=CHAT, headers=AUTH)
    assert response.status_code == 200
    return response.headers.get("X-Request-Id")


def test_an_entry_point_plugin_is_loaded_listed_and_its_hooks_run():
    app = testing.make_app(settings={"LOAD_ENTRYPOINT_PLUGINS": True})
    plugins = app.test_client().get("/-/plugins").get_json()["plugins"]
    assert {
        "name": NAME,
        "module": "kimiproxy_request_id",
        "hooks": ["kimiproxy_prepare_request", "kimiproxy_startup"],
    } in plugins
    # The header is set by the after_request handler its start-up hook added, from the id its
    # prepare_request hook noted.
    assert re.fullmatch(r"[0-9a-f]{12}", request_id_header(app) or "")


def test_its_start_up_hook_can_stop_the_app(monkeypatch):
    monkeypatch.setenv("REQUEST_ID_HEADER", "not a header")
    with pytest.raises(ValueError, match="REQUEST_ID_HEADER"):
        testing.make_app(settings={"LOAD_ENTRYPOINT_PLUGINS": True})


def test_entry_point_plugins_are_not_loaded_when_switched_off():
    app = testing.make_app(settings={"LOAD_ENTRYPOINT_PLUGINS": False})
    assert not app.extensions["kimiproxy"].pm.has_plugin(NAME)
    assert request_id_header(app) is None


def test_disable_plugins_turns_an_entry_point_plugin_off(monkeypatch):
    monkeypatch.setenv("KIMIPROXY_LOAD_ENTRYPOINT_PLUGINS", "true")
    monkeypatch.setenv("KIMIPROXY_DISABLE_PLUGINS", f"cors,{NAME}")
    monkeypatch.setenv("REQUEST_ID_HEADER", "not a header")  # its start-up hook would refuse
    app = kimiproxy.create_app(client=testing.ScriptedClient())
    names = {p["name"] for p in app.test_client().get("/-/plugins").get_json()["plugins"]}
    assert NAME not in names and "cors" not in names and "chat_cleanup" in names
    assert request_id_header(app) is None
