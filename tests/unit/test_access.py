"""Who may call what: client keys on every route but the open ones, operator keys on the
account endpoints, and nothing asked when no keys are configured."""

from __future__ import annotations

import re

import pytest
from flask import Blueprint

from kimiproxy import hookimpl, testing

KEYS = {"API_KEYS": "key-1,key-2", "KIMI_TOKENS": "server-tok"}
OPEN = {"/healthz", "/readyz", "/ping"}
OPERATOR = {"/v1/accounts", "/v1/accounts/<fingerprint>"}


class ExtraRoute:
    @hookimpl
    def kimiproxy_register_routes(self, app) -> None:
        bp = Blueprint("extra", __name__)
        bp.add_url_rule("/-/extra", view_func=lambda: "extra")
        app.register_blueprint(bp)


def routes(app) -> list[tuple[str, str, str]]:
    """Every (rule, method, URL) the app serves, with placeholder path parameters."""
    found = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        url = re.sub(r"<(?:\w+:)?(\w+)>", r"x\1", rule.rule)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            found.append((rule.rule, method, url))
    return found


def call(app, method: str, url: str, key: str | None = None):
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return app.test_client().open(url, method=method, headers=headers, json={})


@pytest.fixture
def keyed_app():
    return testing.make_app(plugins=[ExtraRoute()], settings={**KEYS, "OPERATOR_KEYS": "op-1"})


def test_with_keys_every_route_but_the_open_ones_wants_one(keyed_app):
    served = routes(keyed_app)
    assert {"/v1/chat/completions", "/token/check", "/-/plugins", "/-/extra"} <= {
        rule for rule, _, _ in served
    }
    for rule, method, url in served:
        if rule in OPEN:
            assert call(keyed_app, method, url).status_code == 200, rule
            continue
        wanted = "operator key" if rule in OPERATOR else "API key"
        for key in (None, "wrong", "key-1x"):
            response = call(keyed_app, method, url, key)
            assert response.status_code == 401, (rule, method, key)
            error = response.get_json()["error"]
            assert error["type"] == "authentication_error", rule
            assert (wanted in error["message"]) or error["message"].startswith("Incorrect")
            assert key is None or key not in response.get_data(as_text=True)


def test_with_keys_a_valid_one_opens_each_route(keyed_app):
    for rule, method, url in routes(keyed_app):
        key = "op-1" if rule in OPERATOR else "key-2"
        assert call(keyed_app, method, url, key).status_code != 401, (rule, method)


def test_an_unknown_path_asks_for_the_key_first(keyed_app):
    assert call(keyed_app, "GET", "/v1/nothing").status_code == 401
    assert call(keyed_app, "GET", "/v1/nothing", "key-1").status_code == 404


def test_a_client_key_does_not_open_the_account_endpoints_nor_an_operator_key_the_api(keyed_app):
    assert call(keyed_app, "GET", "/v1/accounts", "key-1").status_code == 401
    assert call(keyed_app, "GET", "/v1/models", "op-1").status_code == 401
    assert call(keyed_app, "GET", "/v1/accounts", "op-1").status_code == 200


def test_cors_preflight_needs_no_key(keyed_app):
    response = keyed_app.test_client().options(
        "/v1/chat/completions",
        headers={"Origin": "https://chat.example", "Access-Control-Request-Method": "POST"},
    )
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == "*"


def test_without_keys_no_route_asks_for_one():
    app = testing.make_app(plugins=[ExtraRoute()], settings={"OPERATOR_KEYS": "op-1"})
    for rule, method, url in routes(app):
        if rule in OPERATOR or rule.endswith("/chat/completions"):
            continue
        assert call(app, method, url).status_code != 401, (rule, method)
    # Chat still needs the caller's own Kimi token, and says so.
    missing = call(app, "POST", "/v1/chat/completions")
    assert (
        missing.status_code == 401
        and "Kimi refresh token" in missing.get_json()["error"]["message"]
    )


def test_without_operator_keys_the_account_endpoints_say_what_to_set():
    for settings in ({}, KEYS):
        app = testing.make_app(settings=settings)
        for method, url in [
            ("GET", "/v1/accounts"),
            ("POST", "/v1/accounts"),
            ("DELETE", "/v1/accounts/abc"),
        ]:
            response = call(app, method, url, "key-1")
            assert response.status_code == 403, (settings, method)
            error = response.get_json()["error"]
            assert "KIMIPROXY_OPERATOR_KEYS" in error["message"]
            assert error["type"] == "permission_error"


def test_keys_from_a_file_work_with_those_from_the_environment(tmp_path):
    keys_file = tmp_path / "keys"
    keys_file.write_text("# clients\nfile-key\n")
    app = testing.make_app(
        settings={"API_KEYS": "env-key", "API_KEYS_FILE": str(keys_file), "KIMI_TOKENS": "tok"}
    )
    for key in ("env-key", "file-key"):
        assert call(app, "GET", "/v1/models", key).status_code == 200
    assert call(app, "GET", "/v1/models", "other").status_code == 401


def test_a_keys_file_alone_turns_keys_on(tmp_path):
    keys_file = tmp_path / "keys"
    keys_file.write_text("file-key\n")
    app = testing.make_app(settings={"API_KEYS_FILE": str(keys_file)})
    assert call(app, "GET", "/v1/models").status_code == 401
    assert call(app, "GET", "/v1/models", "file-key").status_code == 200


def test_an_unreadable_keys_file_stops_the_start(tmp_path):
    from kimiproxy.settings import SettingsError

    with pytest.raises(SettingsError, match="^KIMIPROXY_API_KEYS_FILE: cannot read"):
        testing.make_app(settings={"API_KEYS_FILE": str(tmp_path / "missing")})
