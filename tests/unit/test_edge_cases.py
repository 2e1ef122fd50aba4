"""Edge cases found on a second reading: hostile model output, misbehaving plugins, and answers
that end badly must neither crash the proxy nor leave chats or account leases behind."""

import json

import pytest

from kimiproxy import hookimpl
from kimiproxy.errors import RateLimited
from kimiproxy.upstream.events import Finished, TextDelta

USER = [{"role": "user", "content": "hi"}]
TOOL = {"type": "function", "function": {"name": "get_weather", "parameters": {}}}
AUTH = {"Authorization": "Bearer tok-a"}


@pytest.mark.parametrize(
    "answer",
    [
        '<tool_calls>[{"name": ["f"]}]</tool_calls>',
        "<tool_calls>" + "[" * 100000 + "]" * 100000 + "</tool_calls>",
    ],
)
@pytest.mark.parametrize("stream", [False, True])
def test_hostile_tool_call_text_is_just_text(http, scripted, answer, stream):
    scripted.script = lambda turn: [TextDelta(answer), Finished()]
    response = http.post(
        "/v1/chat/completions", json={"messages": USER, "tools": [TOOL], "stream": stream}
    )
    assert response.status_code == 200
    if not stream:
        assert response.get_json()["choices"][0]["message"]["content"] == answer
    else:
        assert '"error"' not in response.get_data(as_text=True)


def test_deeply_nested_arguments_in_the_history(http, scripted):
    arguments = "[" * 5000 + "]" * 5000
    messages = USER + [
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "c1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": arguments},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "c1", "content": "ok"},
    ]
    response = http.post("/v1/chat/completions", json={"messages": messages, "tools": [TOOL]})
    assert response.status_code == 200


def test_a_failing_message_plugin_does_not_keep_the_chat(make_app, scripted):
    class Broken:
        @hookimpl
        def kimiproxy_process_message(self, message):
            raise RuntimeError("plugin bug")

    app = make_app()
    app.extensions["kimiproxy"].pm.register(Broken(), name="broken")
    response = app.test_client().post(
        "/v1/chat/completions", headers=AUTH, json={"messages": USER, "conversation_id": "none"}
    )
    assert response.status_code == 500 and response.get_json()["error"]["type"] == "server_error"
    assert scripted.deleted


def test_a_credential_plugin_ignoring_excluded_cannot_loop(make_app, scripted):
    class Stubborn:
        @hookimpl(tryfirst=True)
        def kimiproxy_select_credential(self, credentials):
            return credentials[0]

    scripted.script = lambda turn: RateLimited("throttled")
    app = make_app(ACCOUNT_WAIT=1)
    app.extensions["kimiproxy"].pm.register(Stubborn(), name="stubborn")
    response = app.test_client().post(
        "/v1/chat/completions",
        json={"messages": USER},
        headers={"Authorization": "Bearer tok-a,tok-b"},
    )
    assert response.status_code in (401, 429)
    assert len(scripted.turns) <= 3


def test_a_credential_plugin_failing_on_a_retry_still_cleans_up(make_app, scripted):
    calls = []

    class FailsSecondTime:
        @hookimpl(tryfirst=True)
        def kimiproxy_select_credential(self, credentials, excluded):
            calls.append(1)
            if len(calls) > 1:
                raise RuntimeError("plugin bug")
            return credentials[0]

    def script(turn):
        def answer():
            from kimiproxy.upstream.events import UpstreamFailed

            yield UpstreamFailed(RateLimited("throttled"))

        return answer()

    scripted.script = script
    app = make_app()
    app.extensions["kimiproxy"].pm.register(FailsSecondTime(), name="fails")
    response = app.test_client().post(
        "/v1/chat/completions",
        json={"messages": USER},
        headers={"Authorization": "Bearer tok-a,tok-b"},
    )
    assert response.status_code == 500
    assert [d[0] for d in scripted.deleted] == ["tok-a"]
    assert not app.extensions["kimiproxy"].core.leases.busy("tok-a")


def test_a_kept_chat_is_deleted_when_the_client_left_mid_answer(make_app, scripted):
    from werkzeug.test import EnvironBuilder

    environ = EnvironBuilder(
        method="POST",
        path="/v1/chat/completions",
        headers=AUTH,
        json={"messages": USER, "stream": True, "conversation_id": "none"},
    ).get_environ()
    body = make_app()(environ, lambda status, headers, exc_info=None: None)
    first = next(iter(body))
    assert json.loads(first[6:])["choices"][0]["delta"]["role"] == "assistant"
    body.close()
    assert scripted.deleted
