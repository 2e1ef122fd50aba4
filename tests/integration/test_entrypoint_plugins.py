"""An installed third-party plugin in a served kimiproxy: the example package
(``examples/kimiproxy-request-id``) found by its entry point under gunicorn, turned off by
``KIMIPROXY_DISABLE_PLUGINS``, and refusing a bad setting before ``kimiproxy serve`` listens."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import requests

from kimiproxy.hosting.processes import free_port
from tests.conftest import TEST_TOKEN

CHAT = {"model": "kimi", "messages": [{"role": "user", "content": "Hello"}]}


def ask(proxy) -> requests.Response:
    # A token per proxy: the first refresh rotates it, and another proxy's copy would be dead.
    token = f"{TEST_TOKEN}-{proxy.url.rsplit(':', 1)[1]}"
    response = requests.post(
        f"{proxy.base_url}/chat/completions",
        json=CHAT,
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    return response


def plugin_names(proxy) -> set[str]:
    plugins = requests.get(f"{proxy.url}/-/plugins", timeout=5).json()["plugins"]
    return {p["name"] for p in plugins}


def test_the_served_proxy_loads_the_installed_plugin(proxy_factory):
    proxy = proxy_factory("connect", KIMIPROXY_LOAD_ENTRYPOINT_PLUGINS="true")
    assert "request_id" in plugin_names(proxy)
    assert re.fullmatch(r"[0-9a-f]{12}", ask(proxy).headers.get("X-Request-Id", ""))


def test_disable_plugins_turns_it_off_in_the_served_proxy(proxy_factory):
    proxy = proxy_factory(
        "connect", KIMIPROXY_LOAD_ENTRYPOINT_PLUGINS="true", KIMIPROXY_DISABLE_PLUGINS="request_id"
    )
    assert "request_id" not in plugin_names(proxy)
    assert "X-Request-Id" not in ask(proxy).headers


def test_serve_stops_before_listening_when_its_start_up_hook_refuses():
    env = {
        **os.environ,
        "KIMIPROXY_LOAD_ENTRYPOINT_PLUGINS": "true",
        "REQUEST_ID_HEADER": "not a header",
    }
    result = subprocess.run(
        [sys.executable, "-m", "kimiproxy.cli", "serve", "--port", str(free_port())],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "kimiproxy: REQUEST_ID_HEADER: 'not a header' is not an HTTP header name"
    )
