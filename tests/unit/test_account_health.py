"""Account health through the app: throttling cools an account down, a refused server-held
account is dead, Kimi failing for one account fails over to another before any output."""

from __future__ import annotations

from kimiproxy.accounts import StoreUnavailable
from kimiproxy.accounts.directory import pool_credential
from kimiproxy.chat.health import AccountHealth
from kimiproxy.errors import AuthenticationFailed, RateLimited, UpstreamError
from kimiproxy.upstream.events import Finished, TextDelta
from kimiproxy.wire.openai_chat_request import parse_chat_request

USER = [{"role": "user", "content": "hi"}]


def post(app, token="tok-a,tok-b"):
    return app.test_client().post(
        "/v1/chat/completions",
        json={"messages": USER},
        headers={"Authorization": f"Bearer {token}"},
    )


def fails_for(bad: str, error):
    def script(turn):
        if turn.credential == bad:
            return error
        return [TextDelta("ok"), Finished()]

    return script


def test_kimi_failing_for_one_account_fails_over_to_another(make_app, scripted):
    scripted.script = fails_for("tok-a", UpstreamError("Kimi broke", status=502))
    app = make_app()
    for _ in range(4):  # whichever account is chosen first
        response = post(app)
        assert response.status_code == 200 and response.get_json()["choices"][0]["message"]
    assert {t.credential for t in scripted.turns} == {"tok-a", "tok-b"}


def test_a_throttled_account_cools_down_and_is_not_chosen(make_app, scripted):
    scripted.script = fails_for("tok-a", RateLimited("slow down", retry_after=30))
    app = make_app()
    for _ in range(6):
        assert post(app).status_code == 200
    asked_a = [t for t in scripted.turns if t.credential == "tok-a"]
    assert len(asked_a) == 1  # after the throttle, only tok-b is asked
    store = app.extensions["kimiproxy"].store
    account = store.get_account(app.extensions["kimiproxy"].directory.account_of("tok-a"))
    assert account.state == "cooling" and account.last_error_kind == "rate_limit_exceeded"


def test_when_every_account_cools_down_the_client_is_told_when_to_come_back(make_app, scripted):
    scripted.script = lambda turn: RateLimited("slow down", retry_after=30)
    app = make_app()
    assert post(app, "only-one").status_code == 429
    response = post(app, "only-one")
    assert response.status_code == 429 and 25 <= int(response.headers["Retry-After"]) <= 30
    assert len(scripted.turns) == 1  # the second request did not bother Kimi


def test_a_success_ends_the_cool_down(make_app, scripted):
    app = make_app()
    state = app.extensions["kimiproxy"]
    account_fp = state.directory.account_of("tok-a")
    state.store.mark_cooling(account_fp, 0.0, "rate_limit_exceeded")  # over already
    assert post(app, "tok-a").status_code == 200
    assert state.store.get_account(account_fp).state == "ready"


def test_a_refused_server_held_account_is_dead_and_skipped(make_app, scripted):
    app = make_app()
    state = app.extensions["kimiproxy"]
    state.store.upsert_account("deadbeef0001", refresh_token="t1")
    state.store.upsert_account("deadbeef0002", refresh_token="t2")
    first, second = pool_credential("deadbeef0001"), pool_credential("deadbeef0002")
    scripted.script = fails_for(first, AuthenticationFailed("refused"))
    request = parse_chat_request({"messages": USER})
    for _ in range(30):  # until the random choice has tried the refused account
        assert state.core.ask(request, [first, second]).message.content == "ok"
        if any(t.credential == first for t in scripted.turns):
            break
    for _ in range(4):
        assert state.core.ask(request, [first, second]).message.content == "ok"
    assert state.store.get_account("deadbeef0001").state == "dead"
    assert len([t for t in scripted.turns if t.credential == first]) == 1


def test_a_client_cannot_name_a_server_held_account(make_app, scripted):
    response = post(make_app(), pool_credential("deadbeef0001"))
    assert response.status_code == 401 and not scripted.turns


def test_a_refused_client_token_is_asked_again_next_time(make_app, scripted):
    scripted.script = lambda turn: AuthenticationFailed("Kimi rejected the refresh token")
    app = make_app()
    for _ in range(2):
        response = post(app, "client-own")
        assert response.status_code == 401
        assert response.get_json()["error"]["message"] == "Kimi rejected the refresh token"
    assert len(scripted.turns) == 2


def test_attempts_are_bounded(make_app, scripted):
    scripted.script = lambda turn: UpstreamError("Kimi broke", status=502)
    app = make_app(MAX_ATTEMPTS=2)
    assert post(app, "t1,t2,t3,t4").status_code == 502
    assert len(scripted.turns) == 2


class _UnreachableStore:
    """A store whose every call fails as a lost Redis connection does."""

    def __getattr__(self, name):
        def unreachable(*args, **kwargs):
            raise StoreUnavailable("the account store redis://127.0.0.1:1/0 is unavailable")

        return unreachable


def test_health_is_best_effort_when_the_store_is_unreachable(caplog):
    health = AccountHealth(_UnreachableStore(), lambda credential: "fp", max_cooldown=60)
    # Neither an answer Kimi gave nor Kimi's own error turns into a store error.
    health.succeeded("tok-a")
    health.failed("tok-a", RateLimited("slow down", retry_after=3))
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 2 and all("store_unavailable" in w for w in warnings)
    assert not any("tok-a" in w for w in warnings)
