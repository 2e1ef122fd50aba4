"""``kimiproxy.testing``: the scripted client and the app factory behave as documented."""

from __future__ import annotations

import pytest

from kimiproxy import testing
from kimiproxy.errors import RateLimited, UpstreamError
from kimiproxy.settings import load_config


def test_the_default_answer_and_what_the_client_records():
    client = testing.ScriptedClient()
    app = testing.make_app(client=client)
    body = testing.chat(app, "hi", token="tok-1")
    assert body["choices"][0]["message"]["content"] == "Hello there"
    assert [turn.credential for turn in client.turns] == ["tok-1"]
    assert client.deleted == [("tok-1", "chat0000000000000001")]
    assert client.closed_streams == 1


def test_a_fixed_outcome_answers_every_turn():
    app = testing.make_app(client=testing.ScriptedClient(testing.answer("a", "b")))
    assert testing.streamed_content(testing.stream(app, "hi")) == "ab"
    assert testing.chat(app, "again")["choices"][0]["message"]["content"] == "ab"


def test_failures_before_and_after_output():
    before = testing.make_app(client=testing.ScriptedClient(RateLimited("slow down")))
    assert testing.chat(before, "hi")["error"]["code"] == "rate_limit_exceeded"
    [refused] = testing.stream(before, "hi")
    assert refused["error"]["code"] == "rate_limit_exceeded"
    after = testing.make_app(
        client=testing.ScriptedClient(testing.failing(UpstreamError("broke"), "par"))
    )
    chunks = testing.stream(after, "hi")
    assert testing.streamed_content(chunks) == "par"
    assert chunks[-1]["error"]["message"] == "broke"


def test_in_turns_answers_each_turn_in_order_then_repeats_the_last():
    script = testing.in_turns(RateLimited("busy"), testing.answer("ok"))
    client = testing.ScriptedClient(script)
    app = testing.make_app(client=client)
    body = testing.chat(app, "hi", token="tok-a,tok-b")
    assert body["choices"][0]["message"]["content"] == "ok"
    assert len(client.turns) == 2
    assert script(client.turns[0]) == testing.answer("ok")
    with pytest.raises(ValueError):
        testing.in_turns()


def test_make_app_ignores_the_environment_and_entry_points(monkeypatch):
    monkeypatch.setenv("KIMIPROXY_DISABLE_PLUGINS", "citations")
    monkeypatch.setenv("KIMIPROXY_LOAD_ENTRYPOINT_PLUGINS", "true")
    state = testing.make_app().extensions["kimiproxy"]
    assert state.pm.has_plugin("citations")
    assert not state.settings.load_entrypoint_plugins
    assert isinstance(state.client, testing.ScriptedClient)


def test_make_app_takes_settings_as_overrides_or_whole(tmp_path):
    overrides = testing.make_app(settings={"kimiproxy_strip_citations": "yes"})
    assert overrides.extensions["kimiproxy"].settings.strip_citations
    whole = load_config(
        {"cors_origins": "", "load_entrypoint_plugins": False, "data_dir": str(tmp_path)},
        environ={},
    )
    assert testing.make_app(settings=whole).extensions["kimiproxy"].settings is whole
