"""Every hook, exercised the way a plugin author would: a plugin given to
``kimiproxy.testing.make_app`` and a request through the app. Each test is named
``test_hook_<hook>_…`` after the hook it exercises."""

from __future__ import annotations

import pytest
from flask import Blueprint

from kimiproxy import hookimpl, testing
from kimiproxy.errors import InvalidRequest, RateLimited
from kimiproxy.settings import SettingsError
from kimiproxy.testing import ScriptedClient
from kimiproxy.upstream.events import Finished, SearchResult, TextDelta


def test_hook_select_credential_chooses_and_is_told_what_failed():
    asked = []

    class LastFirst:
        @hookimpl
        def kimiproxy_select_credential(self, credentials, excluded, request, context):
            asked.append((list(credentials), set(excluded), request.model_name))
            usable = [c for c in credentials if c not in excluded]
            return usable[-1] if usable else None

    client = ScriptedClient(testing.in_turns(RateLimited("throttled"), testing.answer("ok")))
    app = testing.make_app(plugins=[LastFirst()], client=client)
    body = testing.chat(app, "hi", token="tok-a,tok-b,tok-c", model="kimi-search")
    assert body["choices"][0]["message"]["content"] == "ok"
    assert [turn.credential for turn in client.turns] == ["tok-c", "tok-b"]
    assert asked == [
        (["tok-a", "tok-b", "tok-c"], set(), "kimi-search"),
        (["tok-a", "tok-b", "tok-c"], {"tok-c"}, "kimi-search"),
    ]


def test_hook_select_credential_none_lets_the_built_in_choose():
    class Undecided:
        @hookimpl
        def kimiproxy_select_credential(self, credentials):
            return None

    client = ScriptedClient()
    app = testing.make_app(plugins=[Undecided()], client=client)
    testing.chat(app, "hi", token="only")
    assert [turn.credential for turn in client.turns] == ["only"]


def test_hook_prepare_request_changes_the_prompt_once_per_attempt():
    seen = []

    class Prefix:
        @hookimpl
        def kimiproxy_prepare_request(self, request, context):
            seen.append((context.credential, context.prompt))
            context.prompt = "Answer in French.\n" + context.prompt

    client = ScriptedClient(testing.in_turns(RateLimited("throttled"), testing.answer("oui")))
    app = testing.make_app(plugins=[Prefix()], client=client)
    body = testing.chat(app, "hi", token="tok-a,tok-b")
    assert body["choices"][0]["message"]["content"] == "oui"
    # The second attempt starts again from the merged prompt, not from the first's change.
    assert [credential for credential, _ in seen] == [t.credential for t in client.turns]
    assert [prompt for _, prompt in seen] == ["hi", "hi"]
    assert [turn.prompt for turn in client.turns] == ["Answer in French.\nhi"] * 2


def test_hook_prepare_request_refuses_with_its_error_and_cleanup_still_runs():
    cleaned = []

    class Gate:
        @hookimpl
        def kimiproxy_prepare_request(self, request, context):
            if "secret" in context.prompt:
                raise InvalidRequest("this proxy does not take secrets", code="refused")

        @hookimpl
        def kimiproxy_cleanup(self, context, error):
            cleaned.append(error)

    client = ScriptedClient()
    app = testing.make_app(plugins=[Gate()], client=client)
    body = testing.chat(app, "my secret")
    assert body["error"]["code"] == "refused"
    assert client.turns == [] and len(cleaned) == 1 and cleaned[0].code == "refused"
    assert testing.chat(app, "hello")["choices"][0]["message"]["content"] == "Hello there"


def test_hook_process_delta_rewrites_and_drops_streamed_pieces():
    kinds = []

    class Shout:
        @hookimpl
        def kimiproxy_process_delta(self, delta, context):
            kinds.append(delta.kind)
            delta.text = "" if delta.text.strip() == "um" else delta.text.upper()

    client = ScriptedClient([TextDelta("hello"), TextDelta(" um"), TextDelta(" you"), Finished()])
    app = testing.make_app(plugins=[Shout()], client=client)
    chunks = testing.stream(app, "hi")
    assert testing.streamed_content(chunks) == "HELLO YOU"
    assert kinds == ["content"] * 3
    # A whole answer has no deltas: the hook is not called for it.
    assert testing.chat(app, "hi")["choices"][0]["message"]["content"] == "hello um you"
    assert len(kinds) == 3


def test_hook_process_delta_sees_citations_after_the_built_in_renders_them():
    class Footnotes:
        @hookimpl
        def kimiproxy_process_delta(self, delta, context):
            if delta.kind == "citation":
                assert delta.text.startswith("【检索 1】")
                delta.text = f"[{delta.number}] {delta.search_result.url}\n"

    client = ScriptedClient([SearchResult("T", "https://e.x/1"), TextDelta("answer"), Finished()])
    app = testing.make_app(plugins=[Footnotes()], client=client)
    chunks = testing.stream(app, "hi", model="kimi-search")
    assert testing.streamed_content(chunks) == "[1] https://e.x/1\nanswer"


def test_hook_process_delta_failure_ends_the_stream_with_an_error_event():
    class Broken:
        @hookimpl
        def kimiproxy_process_delta(self, delta):
            raise RuntimeError("plugin bug")

    client = ScriptedClient()
    chunks = testing.stream(testing.make_app(plugins=[Broken()], client=client), "hi")
    assert chunks[-1]["error"]["code"] == "internal_error"
    assert "plugin bug" not in str(chunks)
    assert client.deleted  # cleanup ran all the same


def test_hook_process_message_rewrites_a_whole_answer():
    class Sign:
        @hookimpl
        def kimiproxy_process_message(self, message, context):
            message.content += f"\n-- {context.request.model_name}"

    app = testing.make_app(plugins=[Sign()])
    body = testing.chat(app, "hi", model="kimi-thinking")
    assert body["choices"][0]["message"]["content"] == "Hello there\n-- kimi-thinking"


def test_hook_process_message_in_a_stream_still_sets_the_finish_reason():
    class Truncated:
        @hookimpl
        def kimiproxy_process_message(self, message, context):
            message.content = "never sent"
            message.finish_reason = "length"

    chunks = testing.stream(testing.make_app(plugins=[Truncated()]), "hi")
    assert testing.streamed_content(chunks) == "Hello there"
    assert chunks[-1]["choices"][0]["finish_reason"] == "length"


def test_hook_cleanup_runs_once_with_the_error_the_client_gets():
    calls = []

    class Recorder:
        @hookimpl
        def kimiproxy_cleanup(self, context, error):
            calls.append((context.created_chats, context.client_disconnected, error))

    ok = testing.make_app(plugins=[Recorder()])
    testing.chat(ok, "hi", token="tok")
    assert calls == [([("tok", "chat0000000000000001")], False, None)]
    calls.clear()
    failure = RateLimited("slow down")
    broken = testing.make_app(
        plugins=[Recorder()], client=ScriptedClient(testing.failing(failure, "partial"))
    )
    chunks = testing.stream(broken, "hi", token="tok")
    assert chunks[-1]["error"]["code"] == "rate_limit_exceeded"
    assert calls == [([("tok", "chat0000000000000001")], False, failure)]


def test_hook_cleanup_that_raises_does_not_change_the_answer(caplog):
    class Broken:
        @hookimpl
        def kimiproxy_cleanup(self, context, error):
            raise RuntimeError("plugin bug")

    client = ScriptedClient()
    body = testing.chat(testing.make_app(plugins=[Broken()], client=client), "hi")
    assert body["choices"][0]["message"]["content"] == "Hello there"
    assert "the cleanup hook of" in caplog.text and "failed" in caplog.text
    # Each implementation runs on its own: the built-in cleanup still deletes the chat.
    assert client.deleted == [(testing.TOKEN, "chat0000000000000001")]


def test_hook_register_routes_adds_a_blueprint_with_the_settings():
    class Version:
        @hookimpl
        def kimiproxy_register_routes(self, app, settings):
            bp = Blueprint("version", __name__)
            bp.add_url_rule("/-/protocol", view_func=lambda: {"protocol": settings.protocol})
            app.register_blueprint(bp)

    app = testing.make_app(plugins=[Version()], settings={"protocol": "rest"})
    assert app.test_client().get("/-/protocol").get_json() == {"protocol": "rest"}
    plugins = app.test_client().get("/-/plugins").get_json()["plugins"]
    assert {"name": "Version", "module": "Version", "hooks": ["kimiproxy_register_routes"]} in (
        plugins
    )


def test_hook_startup_fires_for_a_plugin_given_to_make_app_after_the_routes():
    fired = []

    class Middleware:
        @hookimpl
        def kimiproxy_register_routes(self, app):
            fired.append("routes")

        @hookimpl
        def kimiproxy_startup(self, app, settings):
            rules = {rule.rule for rule in app.url_map.iter_rules()}
            fired.append(("startup", "/v1/chat/completions" in rules, settings))

            @app.after_request
            def tag(response):
                response.headers["X-Served-By"] = "kimiproxy"
                return response

    app = testing.make_app(plugins=[Middleware()])
    assert fired == ["routes", ("startup", True, app.extensions["kimiproxy"].settings)]
    assert app.test_client().get("/ping").headers["X-Served-By"] == "kimiproxy"


@pytest.mark.parametrize(
    "error",
    [SettingsError("shout_level", "must be 1 to 3"), ValueError("SHOUT_LEVEL: must be 1 to 3")],
)
def test_hook_startup_can_refuse_to_start(error):
    class Strict:
        @hookimpl
        def kimiproxy_startup(self, settings):
            raise error

    with pytest.raises(ValueError, match="SHOUT_LEVEL: must be 1 to 3"):
        testing.make_app(plugins=[Strict()])
