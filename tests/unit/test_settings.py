"""Settings: one typed object, environment and overrides coerced alike, bad values named."""

from __future__ import annotations

import dataclasses
import re
import subprocess
import sys

import pytest

from kimiproxy.allow_list import AllowList
from kimiproxy.settings import (
    Settings,
    SettingsError,
    load_config,
    replace_settings,
    unknown_environment,
)


def test_defaults_are_typed():
    settings = load_config(environ={})
    assert isinstance(settings, Settings)
    assert settings.protocol == "connect" and settings.upstream_url == "https://www.kimi.com"
    assert settings.strip_citations is False and settings.account_wait == 60.0
    assert settings.cors_origins == ("*",) and settings.fetch_allow == AllowList()


def test_settings_are_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        load_config(environ={}).protocol = "rest"


@pytest.mark.parametrize(
    "raw, expected", [("false", False), ("0", False), ("yes", True), ("ON", True), ("", False)]
)
def test_overrides_are_coerced_like_the_environment(raw, expected):
    from_override = load_config({"STRIP_CITATIONS": raw}, environ={})
    from_env = load_config(environ={"KIMIPROXY_STRIP_CITATIONS": raw})
    assert from_override.strip_citations is expected
    assert from_env.strip_citations is expected


def test_numbers_lists_and_names_are_coerced():
    settings = load_config(
        {
            "kimiproxy_account_wait": "2.5",
            "account_concurrency": "3",
            "DISABLE_PLUGINS": "cors, citations,,",
            "FETCH_ALLOW": "127.0.0.1, files.internal",
            "protocol": " REST ",
            "log_level": "debug",
        },
        environ={},
    )
    assert settings.account_wait == 2.5 and settings.account_concurrency == 3
    assert settings.disable_plugins == ("cors", "citations")
    assert settings.fetch_allow.allows_host("files.internal")
    assert settings.protocol == "rest" and settings.upstream_url == "https://kimi.moonshot.cn"
    assert settings.log_level == "DEBUG"


def test_overrides_win_over_the_environment():
    settings = load_config({"ACCOUNT_WAIT": 1}, environ={"KIMIPROXY_ACCOUNT_WAIT": "9"})
    assert settings.account_wait == 1.0


def test_unknown_override_keys_are_refused_by_name():
    with pytest.raises(SettingsError) as caught:
        load_config({"STRIP_CITATION": True, "PROTOCL": "rest"}, environ={})
    message = str(caught.value)
    assert "STRIP_CITATION" in message and "PROTOCL" in message and "\n" not in message


@pytest.mark.parametrize(
    "name, value, words",
    [
        ("PROTOCOL", "conect", ["KIMIPROXY_PROTOCOL", "connect, rest", "'conect'"]),
        ("WORKERS", "two", ["KIMIPROXY_WORKERS", "whole number", "'two'"]),
        ("WORKERS", "0", ["KIMIPROXY_WORKERS", "at least 1"]),
        ("ACCOUNT_WAIT", "-1", ["KIMIPROXY_ACCOUNT_WAIT", "at least 0"]),
        ("READ_TIMEOUT", "nan", ["KIMIPROXY_READ_TIMEOUT", "finite"]),
        ("STRIP_CITATIONS", "maybe", ["KIMIPROXY_STRIP_CITATIONS", "true or false"]),
        ("PORT", "70000", ["KIMIPROXY_PORT", "at most 65535"]),
        ("FETCH_ALLOW", "not a host!", ["KIMIPROXY_FETCH_ALLOW", "'not a host!'"]),
        ("UPSTREAM", "ftp://x", ["KIMIPROXY_UPSTREAM", "http(s) URL"]),
        ("LOG_LEVEL", "loud", ["KIMIPROXY_LOG_LEVEL", "INFO"]),
        ("KIMI_TOKENS", "a b", ["KIMIPROXY_KIMI_TOKENS", "printable ASCII"]),
        ("CONNECT_TIMEOUT", True, ["KIMIPROXY_CONNECT_TIMEOUT", "number"]),
    ],
)
def test_bad_values_name_the_variable(name, value, words):
    with pytest.raises(SettingsError) as caught:
        load_config({name: value}, environ={})
    message = str(caught.value)
    assert message.startswith(f"KIMIPROXY_{name}: ") and "\n" not in message
    for word in words:
        assert word in message


def test_a_long_bad_value_is_quoted_short():
    with pytest.raises(SettingsError) as caught:
        load_config({"PROTOCOL": "x" * 5000}, environ={})
    assert len(str(caught.value)) < 200


def test_server_held_tokens_need_api_keys():
    with pytest.raises(SettingsError, match="KIMIPROXY_KIMI_TOKENS: needs KIMIPROXY_API_KEYS"):
        load_config({"KIMI_TOKENS": "t1"}, environ={})
    with pytest.raises(SettingsError, match="KIMIPROXY_TOKENS_FILE: needs KIMIPROXY_API_KEYS"):
        load_config({"TOKENS_FILE": "/tmp/tokens"}, environ={})
    settings = load_config({"KIMI_TOKENS": "t1,t2", "API_KEYS": ["k1"]}, environ={})
    assert settings.kimi_tokens == ("t1", "t2") and settings.api_keys == ("k1",)
    # Keys alone are fine: accounts can be added later through the account endpoints.
    assert load_config({"API_KEYS": "k1"}, environ={}).server_held_accounts


@pytest.mark.parametrize(
    "value", ["", "sqlite://", "sqlite:///tmp/x.db", "redis://127.0.0.1:6379/0"]
)
def test_state_urls(value):
    assert load_config({"STATE": value}, environ={}).state == value


def test_a_bad_state_url_is_one_line():
    with pytest.raises(SettingsError, match=r"^KIMIPROXY_STATE: must be sqlite:///"):
        load_config({"STATE": "postgres://db"}, environ={})


def test_the_refresh_service_follows_an_upstream_that_points_elsewhere():
    assert load_config(environ={}).auth_upstream_url == "https://auth.kimi.com"
    local = load_config({"UPSTREAM": "http://127.0.0.1:9"}, environ={})
    assert local.auth_upstream_url == "http://127.0.0.1:9"
    both = load_config(
        {"UPSTREAM": "http://127.0.0.1:9", "AUTH_UPSTREAM": "http://a:1/"}, environ={}
    )
    assert both.auth_upstream_url == "http://a:1"


def test_secrets_stay_out_of_the_repr():
    settings = load_config(
        {"KIMI_TOKENS": "tok-1", "API_KEYS": "key-1", "SECRET_KEY": "pass-1"}, environ={}
    )
    shown = repr(settings)
    assert not {"tok-1", "key-1", "pass-1"} & set(re.findall(r"[\w-]+", shown))
    assert "kimi_tokens=<1 hidden>" in shown and "secret_key=<set>" in shown


def test_replace_checks_like_an_override():
    settings = load_config(environ={})
    assert replace_settings(settings, account_wait="3").account_wait == 3.0
    with pytest.raises(SettingsError):
        replace_settings(settings, protocol="nope")


def test_unknown_environment_variables_are_reported():
    environ = {"KIMIPROXY_PROTOCL": "rest", "KIMIPROXY_PROTOCOL": "rest", "OTHER": "x"}
    assert unknown_environment(environ) == ["KIMIPROXY_PROTOCL"]


def _serve(env_changes: dict[str, str]) -> subprocess.CompletedProcess:
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith("KIMIPROXY_")}
    env.update(env_changes)
    return subprocess.run(
        [sys.executable, "-m", "kimiproxy.cli", "serve", "--port", "1"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    "variable, value", [("KIMIPROXY_PROTOCOL", "conect"), ("KIMIPROXY_WORKERS", "two")]
)
def test_serve_stops_with_one_line_naming_the_variable(variable, value):
    result = _serve({variable: value})
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"kimiproxy: {variable}: "), result.stderr
    assert "Listening" not in result.stderr + result.stdout
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("value", ["127.0.0.1:8000", "0.0.0.0:1", "[::1]:8080", "unix:/tmp/k.sock"])
def test_bind_addresses(value):
    assert load_config({"BIND": value}, environ={}).bind_address == value


def test_a_bad_bind_address_is_one_line():
    with pytest.raises(SettingsError, match=r"^KIMIPROXY_BIND: must be host:port"):
        load_config({"BIND": "nonsense"}, environ={})


def test_disabling_the_only_account_chooser_is_a_settings_error():
    from kimiproxy.testing import make_app

    with pytest.raises(SettingsError, match=r"^KIMIPROXY_DISABLE_PLUGINS: no plugin is left"):
        make_app(settings={"DISABLE_PLUGINS": "random_credential,round_robin,least_busy"})


def test_the_store_password_stays_out_of_the_repr_and_errors():
    settings = load_config({"STATE": "redis://:hunter2-pass@127.0.0.1:6379/0"}, environ={})
    assert "hunter2" not in repr(settings) and "redis://:***@127.0.0.1:6379/0" in repr(settings)
    with pytest.raises(SettingsError) as caught:
        load_config({"STATE": "redis//:hunter2-pass@host"}, environ={})
    assert "hunter2" not in str(caught.value)
