"""The chat core owns the lifecycle: cleanup runs exactly once, told the error the client gets,
on success, on failure, on a client disconnect and when an answer is abandoned unread."""

from __future__ import annotations

import pytest

from kimiproxy import hookimpl
from kimiproxy.errors import InternalError, RateLimited, UpstreamError
from kimiproxy.upstream.events import Finished, TextDelta, UpstreamFailed
from kimiproxy.wire.openai_chat_request import parse_chat_request

USER = [{"role": "user", "content": "hi"}]


class CleanupRecorder:
    def __init__(self):
        self.calls = []

    @hookimpl
    def kimiproxy_cleanup(self, context, error):
        self.calls.append((context.client_disconnected, error))


@pytest.fixture
def core_app(make_app):
    recorder = CleanupRecorder()
    app = make_app()
    app.extensions["kimiproxy"].pm.register(recorder, name="recorder")
    return app, recorder


def _core(app):
    return app.extensions["kimiproxy"].core


def _request(**body):
    return parse_chat_request({"messages": USER, **body})


def test_a_whole_answer_cleans_up_once_with_usage(core_app, scripted):
    app, recorder = core_app
    answer = _core(app).ask(_request(), ["tok-a"])
    assert answer.message.content == "Hello there" and answer.finished
    assert answer.usage["completion_tokens"] > 0
    assert recorder.calls == [(False, None)]
    assert not _core(app).leases.busy("tok-a")


def test_a_failure_before_output_is_raised_after_cleanup(core_app, scripted):
    app, recorder = core_app
    scripted.script = lambda turn: UpstreamError("Kimi broke")
    with pytest.raises(UpstreamError) as caught:
        _core(app).open(_request(), ["tok-a"], streaming=True)
    assert recorder.calls == [(False, caught.value)]


def test_a_failure_mid_answer_tells_cleanup_the_same_error(core_app, scripted):
    app, recorder = core_app
    failure = RateLimited("slow down")
    scripted.script = lambda turn: [TextDelta("partial"), UpstreamFailed(failure)]
    answer = _core(app).open(_request(stream=True), ["tok-a"], streaming=True)
    with pytest.raises(RateLimited):
        list(answer.deltas())
    assert recorder.calls == [(False, failure)] and answer.error is failure


def test_an_unexpected_failure_is_one_internal_error_everywhere(core_app, scripted):
    app, recorder = core_app

    class Broken:
        @hookimpl
        def kimiproxy_process_message(self, message, context):
            raise RuntimeError("plugin bug")

    app.extensions["kimiproxy"].pm.register(Broken(), name="broken")
    response = app.test_client().post(
        "/v1/chat/completions", json={"messages": USER}, headers={"Authorization": "Bearer t"}
    )
    assert response.status_code == 500
    assert response.get_json()["error"]["code"] == "internal_error"
    [(disconnected, error)] = recorder.calls
    assert isinstance(error, InternalError) and not disconnected


def test_closing_a_stream_midway_is_a_disconnect(core_app, scripted):
    app, recorder = core_app
    scripted.script = lambda turn: [TextDelta("a"), TextDelta("b"), Finished("stop")]
    answer = _core(app).open(_request(stream=True), ["tok-a"], streaming=True)
    deltas = answer.deltas()
    next(deltas)
    deltas.close()
    answer.close()  # a second close changes nothing
    assert recorder.calls == [(True, None)] and scripted.closed_streams == 1
    assert not _core(app).leases.busy("tok-a")


def test_an_answer_abandoned_unread_is_cleaned_up(core_app, scripted):
    app, recorder = core_app
    answer = _core(app).open(_request(stream=True), ["tok-a"], streaming=True)
    answer.close()
    assert recorder.calls == [(True, None)]


def test_a_stream_read_to_the_end_is_no_disconnect(core_app, scripted):
    app, recorder = core_app
    answer = _core(app).open(_request(stream=True), ["tok-a"], streaming=True)
    assert "".join(d.text for d in answer.deltas()) == "Hello there"
    answer.close()
    assert recorder.calls == [(False, None)]


def test_the_stream_route_cleans_up_before_its_last_event(core_app, scripted):
    app, recorder = core_app
    seen_before_done = []

    response = app.test_client().post(
        "/v1/chat/completions",
        json={"messages": USER, "stream": True},
        headers={"Authorization": "Bearer t"},
    )
    for chunk in response.response:
        if chunk.startswith(b"data: [DONE]"):
            seen_before_done.append(len(recorder.calls))
    assert seen_before_done == [1]


class _LeaveAt:
    """An ``interruptible`` that reports the client gone at its n-th wait."""

    def __init__(self, at: int):
        self.at, self.waits = at, 0

    def __call__(self):
        from contextlib import contextmanager

        from kimiproxy.errors import ClientDisconnected

        @contextmanager
        def guard():
            self.waits += 1
            if self.waits == self.at:
                raise ClientDisconnected("gone")
            yield

        return guard()


@pytest.mark.parametrize("at", [1, 2, 3])
def test_a_client_leaving_at_any_wait_is_cleaned_up_fully(core_app, scripted, at):
    from kimiproxy.errors import ClientDisconnected

    app, recorder = core_app
    scripted.script = lambda turn: [TextDelta("a"), TextDelta("b"), Finished("stop")]
    with pytest.raises(ClientDisconnected):
        answer = _core(app).open(_request(), ["tok-a"], streaming=False, interruptible=_LeaveAt(at))
        answer.collect()
    assert recorder.calls == [(True, None)]
    # Before the first event nothing was asked of Kimi; after it, the chat is deleted.
    assert len(scripted.deleted) == (0 if at == 1 else 1)
    assert not _core(app).leases.busy("tok-a")


def test_an_interrupted_lease_call_leaves_no_lease(core_app, monkeypatch):
    from kimiproxy.errors import ClientDisconnected

    app, _ = core_app
    leases = _core(app).leases

    def interrupted(*args, **kwargs):
        raise ClientDisconnected("gone")

    monkeypatch.setattr(leases.store, "acquire_lease", interrupted)
    with pytest.raises(ClientDisconnected):
        leases.acquire(["tok-a"], lambda busy: "tok-a", 0.0)
    assert not leases._held
