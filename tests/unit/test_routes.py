"""The HTTP surface with a scripted upstream: OpenAI shapes, errors, hooks and cleanup."""

import io
import json

import pytest

from kimiproxy import hookimpl
from kimiproxy.accounts import fingerprint
from kimiproxy.accounts.directory import pool_credential
from kimiproxy.errors import RateLimited, UpstreamError
from kimiproxy.upstream.events import (
    Finished,
    SearchResult,
    TextDelta,
    ThinkingDelta,
    UpstreamFailed,
)

USER = [{"role": "user", "content": "hi"}]


def sse_payloads(response) -> list:
    text = response.get_data(as_text=True)
    assert "event:" not in text
    return [line[len("data: ") :] for line in text.split("\n\n") if line]


def test_non_stream_answer(http, scripted):
    response = http.post("/v1/chat/completions", json={"messages": USER})
    assert response.status_code == 200
    body = response.get_json()
    assert body["object"] == "chat.completion"
    assert body["choices"][0]["message"] == {
        "role": "assistant",
        "content": "Hello there",
        "refusal": None,
    }
    assert body["choices"][0]["finish_reason"] == "stop"
    assert body["usage"]["completion_tokens"] > 0
    assert scripted.deleted == [("tok-a", body["id"])]


def test_stream_answer_shape(http, scripted):
    response = http.post(
        "/v1/chat/completions",
        json={"messages": USER, "stream": True, "stream_options": {"include_usage": True}},
    )
    payloads = sse_payloads(response)
    assert payloads[-1] == "[DONE]"
    chunks = [json.loads(p) for p in payloads[:-1]]
    assert len({c["id"] for c in chunks}) == 1 and len({c["created"] for c in chunks}) == 1
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    finishes = [c for c in chunks if c["choices"] and c["choices"][0]["finish_reason"]]
    assert len(finishes) == 1 and finishes[0] is chunks[-2]
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["total_tokens"] > 0
    assert all(c["usage"] is None for c in chunks[:-1])
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks[:-1])
    assert text == "Hello there"
    assert scripted.deleted and scripted.closed_streams == 1


def test_thinking_and_search(http, scripted):
    scripted.script = lambda turn: [
        ThinkingDelta("hmm"),
        SearchResult("T", "https://e.x/1"),
        TextDelta("answer"),
        Finished(),
    ]
    body = http.post(
        "/v1/chat/completions", json={"model": "kimi-thinking-search", "messages": USER}
    ).get_json()
    message = body["choices"][0]["message"]
    assert message["reasoning_content"] == "hmm"
    assert message["content"] == "answer\n\n搜索结果来自：\n【检索 1】 [T](https://e.x/1)"
    assert body["search_results"][0]["url"] == "https://e.x/1"
    stream = http.post(
        "/v1/chat/completions",
        json={"model": "kimi-thinking-search", "messages": USER, "stream": True},
    )
    deltas = [json.loads(p)["choices"][0]["delta"] for p in sse_payloads(stream)[:-1]]
    assert {"reasoning_content": "hmm"} in deltas
    assert {"content": "【检索 1】 [T](https://e.x/1)\n"} in deltas


@pytest.mark.parametrize("how", ["request", "silent-model"])
def test_citations_can_be_stripped(http, scripted, how):
    scripted.script = lambda turn: [SearchResult("T", "https://e.x/1"), TextDelta("a"), Finished()]
    body = {"model": "kimi-search", "messages": USER}
    if how == "request":
        body["strip_citations"] = True
    else:
        body["model"] = "kimi-search-silent"
    answer = http.post("/v1/chat/completions", json=body).get_json()
    assert answer["choices"][0]["message"]["content"] == "a"
    assert answer["search_results"][0]["title"] == "T"
    stream = http.post("/v1/chat/completions", json={**body, "stream": True})
    assert "检索" not in stream.get_data(as_text=True).split('"search_results"')[0]


def test_conversation_id_none_keeps_the_chat(http, scripted):
    body = http.post(
        "/v1/chat/completions", json={"messages": USER, "conversation_id": "none"}
    ).get_json()
    assert body["conversation_id"] == body["id"]
    assert scripted.deleted == []
    http.post(
        "/v1/chat/completions",
        json={
            "messages": USER + [{"role": "user", "content": "more"}],
            "conversation_id": body["id"],
        },
    )
    assert scripted.turns[-1].chat_id == body["id"]
    assert scripted.turns[-1].prompt == "more"
    assert scripted.deleted == []


def test_error_before_output_is_an_http_error(http, scripted):
    scripted.script = lambda turn: RateLimited("Kimi is throttling this account", retry_after=3)
    response = http.post("/v1/chat/completions", json={"messages": USER, "stream": True})
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "3"
    assert response.get_json()["error"]["type"] == "rate_limit_error"


def test_another_account_is_tried_before_output(make_app, scripted):
    scripted.script = lambda turn: (
        RateLimited("busy") if turn.credential == "tok-a" else [TextDelta("ok"), Finished()]
    )
    http = make_app().test_client()
    response = http.post(
        "/v1/chat/completions",
        json={"messages": USER},
        headers={"Authorization": "Bearer tok-a,tok-b"},
    )
    assert response.status_code == 200
    assert scripted.turns[-1].credential == "tok-b"


def test_error_mid_stream_is_a_final_error_chunk(http, scripted):
    scripted.script = lambda turn: [TextDelta("par"), UpstreamFailed(UpstreamError("overloaded"))]
    response = http.post("/v1/chat/completions", json={"messages": USER, "stream": True})
    payloads = sse_payloads(response)
    assert payloads[-1] == "[DONE]"
    assert json.loads(payloads[-2])["error"]["message"] == "overloaded"
    assert scripted.deleted


def test_cut_stream_is_an_error(http, scripted):
    scripted.script = lambda turn: [TextDelta("par")]
    response = http.post("/v1/chat/completions", json={"messages": USER})
    assert response.status_code == 502
    assert "cut off" in response.get_json()["error"]["message"]
    assert scripted.deleted


def test_missing_token_is_401(make_app):
    response = make_app().test_client().post("/v1/chat/completions", json={"messages": USER})
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "missing_api_key"


def test_api_keys_mode(make_app, scripted):
    http = make_app(API_KEYS="k1", KIMI_TOKENS="server-tok").test_client()
    bad = http.post(
        "/v1/chat/completions", json={"messages": USER}, headers={"Authorization": "Bearer nope"}
    )
    assert bad.status_code == 401 and "nope" not in bad.get_data(as_text=True)
    good = http.post(
        "/v1/chat/completions", json={"messages": USER}, headers={"Authorization": "Bearer k1"}
    )
    server_held = pool_credential(fingerprint("server-tok"))
    assert good.status_code == 200 and scripted.turns[-1].credential == server_held


def test_server_tokens_without_keys_refuse_to_start(make_app):
    with pytest.raises(ValueError, match="API_KEYS"):
        make_app(KIMI_TOKENS="server-tok")


def test_oversized_body_is_413(make_app):
    http = make_app(MAX_BODY_BYTES=100).test_client()
    response = http.post(
        "/v1/chat/completions",
        data="x" * 500,
        headers={"Authorization": "Bearer t", "Content-Type": "application/json"},
    )
    assert response.status_code == 413
    assert "100-byte" in response.get_json()["error"]["message"]


def test_unknown_route_and_method(http):
    assert http.get("/v1/nothing").get_json()["error"]["type"] == "invalid_request_error"
    response = http.get("/v1/chat/completions")
    assert response.status_code == 405 and "error" in response.get_json()


def test_models(http):
    ids = [m["id"] for m in http.get("/v1/models").get_json()["data"]]
    assert "kimi" in ids
    assert http.get("/v1/models/kimi-search").get_json()["id"] == "kimi-search"
    missing = http.get("/v1/models/no-such-model")
    assert missing.status_code == 404 and missing.get_json()["error"]["code"] == "model_not_found"


def test_ping_and_plugins(http):
    assert http.get("/ping").get_data(as_text=True) == "pong"
    names = {p["name"] for p in http.get("/-/plugins").get_json()["plugins"]}
    assert {"random_credential", "citations", "chat_cleanup", "file_inputs"} <= names


def test_disabled_plugin_is_not_loaded(make_app, scripted):
    http = make_app(DISABLE_PLUGINS="chat_cleanup").test_client()
    names = {p["name"] for p in http.get("/-/plugins").get_json()["plugins"]}
    assert "chat_cleanup" not in names
    http.post(
        "/v1/chat/completions", json={"messages": USER}, headers={"Authorization": "Bearer t"}
    )
    assert scripted.deleted == []


def test_a_plugin_can_rewrite_deltas_and_see_cleanup(make_app, scripted):
    seen = []

    class Shout:
        @hookimpl
        def kimiproxy_process_delta(self, delta):
            delta.text = delta.text.upper()

        @hookimpl
        def kimiproxy_cleanup(self, context, error):
            seen.append((context.chat_id, error))

    app = make_app()
    app.extensions["kimiproxy"].pm.register(Shout(), name="shout")
    response = app.test_client().post(
        "/v1/chat/completions",
        headers={"Authorization": "Bearer t"},
        json={"messages": USER, "stream": True},
    )
    assert '"content":"HELLO"' in response.get_data(as_text=True)
    assert seen and seen[0][1] is None


def test_cors_preflight_and_headers(make_app):
    http = make_app().test_client()
    preflight = http.options(
        "/v1/chat/completions",
        headers={"Origin": "https://chat.example", "Access-Control-Request-Method": "POST"},
    )
    assert preflight.status_code == 200
    assert preflight.headers["Access-Control-Allow-Origin"] == "*"
    assert "Authorization" in preflight.headers["Access-Control-Allow-Headers"]
    closed = (
        make_app(CORS_ORIGINS="").test_client().get("/v1/models", headers={"Origin": "https://x"})
    )
    assert "Access-Control-Allow-Origin" not in closed.headers


def test_stream_closed_before_it_was_read_still_cleans_up(make_app, scripted):
    from werkzeug.test import EnvironBuilder

    environ = EnvironBuilder(
        method="POST",
        path="/v1/chat/completions",
        headers={"Authorization": "Bearer t"},
        json={"messages": USER, "stream": True},
    ).get_environ()
    body = make_app()(environ, lambda status, headers, exc_info=None: None)
    body.close()  # the server gave up before writing a byte
    assert scripted.deleted


@pytest.mark.parametrize(
    "raw", [b'{"messages": [], "temperature": NaN}', b'{"temperature": Infinity, "messages": []}']
)
def test_non_json_constants_are_refused(http, raw):
    response = http.post(
        "/v1/chat/completions", data=raw, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert "not valid JSON" in response.get_json()["error"]["message"]


def test_chunked_body_over_the_limit_is_413(make_app):
    http = make_app(MAX_BODY_BYTES=1000).test_client()

    body = io.BytesIO(b'{"messages": [{"role": "user", "content": "hi"}]}' + b" " * 5000)
    response = http.post(
        "/v1/chat/completions",
        input_stream=body,
        environ_overrides={"wsgi.input_terminated": True},  # as gunicorn marks chunked bodies
        headers={
            "Authorization": "Bearer t",
            "Content-Type": "application/json",
            "Transfer-Encoding": "chunked",
        },
    )
    assert response.status_code == 413


@pytest.mark.parametrize("header", ["Bearer 中文", "Bearer tok\x01en"])
def test_malformed_tokens_are_401(make_app, header):
    http = make_app().test_client()
    response = http.post(
        "/v1/chat/completions",
        json={"messages": USER},
        headers={"Authorization": header.encode("utf-8").decode("latin-1")},
    )
    assert response.status_code == 401


@pytest.mark.parametrize("body", [{"token": ["x"]}, {"token": "中文"}, {"token": "a b"}, {}, []])
def test_token_check_refuses_malformed_bodies(http, body):
    response = http.post("/token/check", json=body)
    assert response.status_code == 400 and response.get_json()["error"]["param"] == "token"


def test_token_check_refuses_deep_nesting(http):
    response = http.post(
        "/token/check",
        data=b'{"token": ' + b"[" * 100000 + b"}",
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 400


def test_files_focus_line_only_when_the_last_message_has_files(http, scripted):
    image = {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}
    messages = [
        {"role": "user", "content": [{"type": "text", "text": "look"}, image]},
        {"role": "assistant", "content": "nice"},
        {"role": "user", "content": "and now?"},
    ]
    http.post("/v1/chat/completions", json={"messages": messages})
    assert "system:关注用户最新的消息" in scripted.turns[-1].prompt


def test_cors_allows_the_sdk_headers(make_app):
    preflight = (
        make_app()
        .test_client()
        .options(
            "/v1/chat/completions",
            headers={
                "Origin": "https://chat.example",
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization, x-stainless-lang",
            },
        )
    )
    assert "x-stainless-lang" in preflight.headers["Access-Control-Allow-Headers"]
