"""One answer at a time per Kimi account, as requests through the app see it."""

import threading
import time

from kimiproxy.upstream.events import Finished, TextDelta

USER = [{"role": "user", "content": "hi"}]


def test_concurrent_requests_on_one_account_take_turns(make_app, scripted):
    release_first = threading.Event()
    active, overlaps = [], []

    def script(turn):
        def answer():
            active.append(turn)
            if len(active) > 1:
                overlaps.append(len(active))
            if len(scripted.turns) == 1:
                release_first.wait(5)
            yield TextDelta("ok")
            active.remove(turn)
            yield Finished()

        return answer()

    scripted.script = script
    app = make_app()
    results = []

    def call():
        response = app.test_client().post(
            "/v1/chat/completions",
            json={"messages": USER},
            headers={"Authorization": "Bearer only-one"},
        )
        results.append(response.status_code)

    first = threading.Thread(target=call)
    first.start()
    time.sleep(0.2)
    second = threading.Thread(target=call)
    second.start()
    time.sleep(0.3)
    assert len(scripted.turns) == 1  # the second waits for the account
    release_first.set()
    first.join(5)
    second.join(5)
    assert results == [200, 200] and overlaps == []


def test_an_account_busy_everywhere_gives_429_after_the_wait(make_app, scripted):
    from kimiproxy.errors import RateLimited

    scripted.script = lambda turn: RateLimited("busy", code="account_busy")
    http = make_app(ACCOUNT_WAIT=1.2).test_client()
    started = time.monotonic()
    response = http.post(
        "/v1/chat/completions",
        json={"messages": USER},
        headers={"Authorization": "Bearer only-one"},
    )
    assert response.status_code == 429
    assert response.get_json()["error"]["code"] == "account_busy"
    assert len(scripted.turns) >= 2  # asked again before giving up
    assert time.monotonic() - started < 3


def test_an_account_within_its_minimum_interval_gives_429_not_401(make_app, scripted):
    http = make_app(ACCOUNT_MIN_INTERVAL=30, ACCOUNT_WAIT=0.5).test_client()
    headers = {"Authorization": "Bearer spaced-account"}
    assert (
        http.post("/v1/chat/completions", json={"messages": USER}, headers=headers).status_code
        == 200
    )
    response = http.post("/v1/chat/completions", json={"messages": USER}, headers=headers)
    assert response.status_code == 429 and response.headers["Retry-After"]
    assert len(scripted.turns) == 1
