"""The account endpoints and ``/readyz`` on both backends, and every route when the store has
gone away: a clean OpenAI error, never a 500 or a token."""

from __future__ import annotations

import json

import pytest

from kimiproxy import testing
from kimiproxy.accounts import DEAD, fingerprint
from kimiproxy.hosting.processes import free_port, stop
from kimiproxy.hosting.redis_process import start_redis
from tests.accounts.conftest import require_redis_server
from tests.accounts.test_pool_import import state_url

TOKENS = ["eyJhbGciOiJIUzUxMiJ9.pool-token-a.sig", "pool-token-b"]
OPERATOR = {"Authorization": "Bearer op-key"}
CLIENT = {"Authorization": "Bearer client-key"}


def make(url: str, **settings):
    return testing.make_app(
        settings={
            "STATE": url,
            "API_KEYS": "client-key",
            "OPERATOR_KEYS": "op-key",
            "KIMI_TOKENS": ",".join(TOKENS),
            **settings,
        }
    )


@pytest.fixture
def app(backend):
    return make(state_url(backend))


def no_token_in(response) -> None:
    text = response.get_data(as_text=True)
    for token in [*TOKENS, "added-token-c", "op-key", "client-key"]:
        assert token not in text


def test_listing_shows_each_account_and_never_a_token(app):
    testing.chat(app, "hi", token="client-key")
    response = app.test_client().get("/v1/accounts", headers=OPERATOR)
    assert response.status_code == 200
    no_token_in(response)
    body = response.get_json()
    assert body["object"] == "list"
    listed = {account["fingerprint"]: account for account in body["data"]}
    assert set(listed) == {fingerprint(t) for t in TOKENS}
    first = listed[fingerprint(TOKENS[0])]
    assert first["source"] == "pool" and first["origin"] == "config" and first["state"] == "ready"
    assert first["in_flight"] == 0 and first["cooldown_until"] is None
    assert first["last_error"] is None and first["usable"] is True
    assert sum(a["requests"] for a in listed.values()) == 1
    assert not any("token" in key for key in first)


def test_listing_shows_health_and_in_flight(app):
    store = app.extensions["kimiproxy"].store
    fp = fingerprint(TOKENS[1])
    store.mark_dead(fp, "auth")
    store.record_failure(fp, "auth")
    store.acquire_lease(fp, "holder", ttl=30)
    listed = app.test_client().get("/v1/accounts", headers=OPERATOR).get_json()["data"]
    shown = next(a for a in listed if a["fingerprint"] == fp)
    assert shown["state"] == DEAD and shown["usable"] is False and shown["in_flight"] == 1
    assert shown["last_error"]["kind"] == "auth" and shown["last_error"]["at"] > 0
    assert shown["failures"] == 1
    only_clients = app.test_client().get("/v1/accounts?source=client", headers=OPERATOR)
    assert only_clients.get_json()["data"] == []
    bad = app.test_client().get("/v1/accounts?source=other", headers=OPERATOR)
    assert bad.status_code == 400 and bad.get_json()["error"]["param"] == "source"


def test_adding_an_account_then_again_then_deleting_it(app):
    http = app.test_client()
    added = http.post(
        "/v1/accounts", headers=OPERATOR, json={"token": "added-token-c", "label": "spare"}
    )
    assert added.status_code == 201
    no_token_in(added)
    fp = fingerprint("added-token-c")
    assert added.get_json()["fingerprint"] == fp and added.get_json()["label"] == "spare"
    assert added.get_json()["origin"] == "api"
    again = http.post("/v1/accounts", headers=OPERATOR, json={"token": "added-token-c"})
    assert again.status_code == 200 and again.get_json()["label"] == "spare"
    # A configured account added again is the API's from then on.
    adopted = http.post("/v1/accounts", headers=OPERATOR, json={"token": TOKENS[1]})
    assert adopted.status_code == 200 and adopted.get_json()["origin"] == "api"
    assert len(http.get("/v1/accounts", headers=OPERATOR).get_json()["data"]) == 3
    # The new account answers chat requests like the configured ones.
    store = app.extensions["kimiproxy"].store
    for token in TOKENS:
        store.mark_dead(fingerprint(token), "auth")
    client = app.extensions["kimiproxy"].client
    testing.chat(app, "hi", token="client-key")
    assert client.turns[-1].credential == f"pool:{fp}"

    deleted = http.delete(f"/v1/accounts/{fp}", headers=OPERATOR)
    assert deleted.status_code == 200 and deleted.get_json() == {
        "object": "account",
        "fingerprint": fp,
        "deleted": True,
    }
    missing = http.delete(f"/v1/accounts/{fp}", headers=OPERATOR)
    assert missing.status_code == 404 and missing.get_json()["error"]["code"] == "account_not_found"


@pytest.mark.parametrize(
    "body",
    [
        [],
        "token",
        {},
        {"token": ""},
        {"token": "has space"},
        {"token": 12},
        {"token": "pool:abcdef123456"},
        {"token": "ok-token", "label": 3},
        {"token": "ok-token", "label": "x" * 65},
        {"token": "ok-token", "label": "line\nbreak"},
        {"token": "ok-token", "extra": True},
    ],
)
def test_a_malformed_body_is_400(app, body):
    response = app.test_client().post(
        "/v1/accounts", headers=OPERATOR, data=json.dumps(body), content_type="application/json"
    )
    assert response.status_code == 400
    assert response.get_json()["error"]["type"] == "invalid_request_error"
    assert "ok-token" not in response.get_data(as_text=True)
    assert app.extensions["kimiproxy"].store.get_account(fingerprint("ok-token")) is None


def test_readyz_with_usable_accounts_then_none(app):
    http = app.test_client()
    ready = http.get("/readyz")
    assert ready.status_code == 200
    assert ready.get_json() == {
        "status": "ready",
        "store": "ok",
        "accounts": {"pool": 2, "usable": 2},
    }
    store = app.extensions["kimiproxy"].store
    store.mark_dead(fingerprint(TOKENS[0]), "auth")
    store.mark_cooling(fingerprint(TOKENS[1]), until=4102444800.0, error_kind="rate_limit")
    unready = http.get("/readyz")
    assert unready.status_code == 503
    body = unready.get_json()
    assert body["status"] == "unready" and body["accounts"] == {"pool": 2, "usable": 0}
    assert body["reason"] == "no usable Kimi account in the pool (1 dead, 1 cooling down)"
    assert http.get("/healthz").get_json() == {"status": "ok"}


def test_readyz_with_an_empty_pool_and_chat_says_what_is_missing(backend):
    app = make(state_url(backend), KIMI_TOKENS="")
    unready = app.test_client().get("/readyz")
    assert unready.status_code == 503
    assert unready.get_json()["reason"] == "no Kimi account in the server's pool"
    refused = testing.chat(app, "hi", token="client-key")
    assert refused["error"]["code"] == "no_usable_account"
    assert "KIMIPROXY_TOKENS_FILE" in refused["error"]["message"]


def test_readyz_without_server_held_accounts_asks_only_the_store(backend):
    app = testing.make_app(settings={"STATE": state_url(backend)})
    assert app.test_client().get("/readyz").get_json() == {"status": "ready", "store": "ok"}


@pytest.fixture
def own_redis():
    require_redis_server()
    port = free_port()
    process = start_redis(port)
    yield port, process
    stop(process)


def test_every_route_answers_a_lost_store_with_a_clean_503(own_redis):
    port, process = own_redis
    app = make(f"redis://127.0.0.1:{port}/0")
    http = app.test_client()
    stop(process)
    calls = [
        ("POST", "/v1/chat/completions", CLIENT, {"messages": [{"role": "user", "content": "hi"}]}),
        (
            "POST",
            "/v1/chat/completions",
            CLIENT,
            {"messages": [{"role": "user", "content": "hi"}], "stream": True},
        ),
        ("GET", "/v1/accounts", OPERATOR, None),
        ("POST", "/v1/accounts", OPERATOR, {"token": "added-token-c"}),
        ("DELETE", f"/v1/accounts/{fingerprint(TOKENS[0])}", OPERATOR, None),
    ]
    for method, url, headers, body in calls:
        response = http.open(url, method=method, headers=headers, json=body)
        assert response.status_code == 503, (method, url)
        error = response.get_json()["error"]
        assert error["code"] == "store_unavailable" and error["type"] == "server_error"
        no_token_in(response)
    # What needs no store still answers.
    assert http.get("/v1/models", headers=CLIENT).status_code == 200
    assert http.get("/healthz").status_code == 200 and http.get("/ping").status_code == 200
    unready = http.get("/readyz")
    assert unready.status_code == 503
    assert unready.get_json() == {
        "status": "unready",
        "store": "unreachable",
        "reason": "the account store is unreachable",
    }
