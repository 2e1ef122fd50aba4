"""Accounts and aliases: create, read, update, delete, states and counters, on both backends."""

from __future__ import annotations

import time

import pytest

from kimiproxy.accounts import CLIENT, COOLING, DEAD, POOL, READY, fingerprint


def test_fingerprint_is_twelve_hex_digits_and_not_the_token():
    token = "eyJhbGciOi.refresh.token"
    print_id = fingerprint(token)
    assert len(print_id) == 12 and int(print_id, 16) >= 0
    assert print_id not in token and print_id == fingerprint(token)
    assert fingerprint(token + "x") != print_id


def test_a_new_account_holds_what_it_was_given(store):
    before = time.time()
    account = store.upsert_account(
        "acc1",
        label="first",
        refresh_token="R1",
        access_token="A1",
        access_expires_at=before + 900,
        quota={"remain": 3},
    )
    assert account == store.get_account("acc1")
    assert (account.fingerprint, account.label, account.source) == ("acc1", "first", POOL)
    assert (account.refresh_token, account.access_token) == ("R1", "A1")
    assert account.access_expires_at == pytest.approx(before + 900)
    assert account.state == READY and account.cooldown_until is None
    assert (account.requests, account.failures, account.quota) == (0, 0, {"remain": 3})
    assert before <= account.created_at == account.updated_at <= time.time()
    assert account.usable() and account.access_valid(margin=60)
    assert not account.access_valid(margin=1000)


def test_unknown_accounts(store):
    assert store.get_account("nope") is None
    assert not store.delete_account("nope")
    assert not store.set_tokens("nope", "R", "A", None)
    assert not store.mark_ready("nope") and not store.mark_dead("nope", "auth")
    assert not store.mark_cooling("nope", time.time(), "throttled")
    assert not store.record_success("nope") and not store.record_failure("nope", "x")
    assert store.get_account("nope") is None


def test_upserting_again_keeps_rotated_tokens_and_updates_the_rest(store):
    store.upsert_account("acc1", refresh_token="original", label="old")
    store.set_tokens("acc1", "rotated", "access", time.time() + 900)
    again = store.upsert_account("acc1", refresh_token="original", label="new", quota={"q": 1})
    assert again.refresh_token == "rotated" and again.access_token == "access"
    assert (again.label, again.quota, again.source) == ("new", {"q": 1}, POOL)
    unchanged = store.upsert_account("acc1")
    assert (unchanged.label, unchanged.quota) == ("new", {"q": 1})
    replaced = store.upsert_account("acc1", refresh_token="fresh", replace_tokens=True)
    assert (replaced.refresh_token, replaced.access_token) == ("fresh", None)
    assert replaced.access_expires_at is None


def test_set_tokens_is_seen_by_another_store_object(backend, store):
    store.upsert_account("acc1", refresh_token="R1")
    expires = time.time() + 900
    assert store.set_tokens("acc1", "R2", "A2", expires)
    other = backend.open()
    try:
        account = other.get_account("acc1")
        assert (account.refresh_token, account.access_token) == ("R2", "A2")
        assert account.access_expires_at == pytest.approx(expires)
        assert account.updated_at >= account.created_at
    finally:
        other.close()


def test_list_by_source_oldest_first(store):
    store.upsert_account("b-pool", refresh_token="1")
    store.upsert_account("a-client", source=CLIENT, refresh_token="2")
    store.upsert_account("c-pool", source=POOL, refresh_token="3")
    assert [a.fingerprint for a in store.list_accounts()] == ["b-pool", "a-client", "c-pool"]
    assert [a.fingerprint for a in store.list_accounts(POOL)] == ["b-pool", "c-pool"]
    assert [a.fingerprint for a in store.list_accounts(source=CLIENT)] == ["a-client"]
    with pytest.raises(ValueError, match="source"):
        store.list_accounts("browser")
    with pytest.raises(ValueError, match="source"):
        store.upsert_account("x", source="browser")


def test_delete(store):
    store.upsert_account("acc1", refresh_token="R")
    store.upsert_account("acc2", refresh_token="R")
    assert store.delete_account("acc1")
    assert store.get_account("acc1") is None and not store.delete_account("acc1")
    assert [a.fingerprint for a in store.list_accounts()] == ["acc2"]


def test_states(store):
    store.upsert_account("acc1", refresh_token="R")
    until = time.time() + 60
    assert store.mark_cooling("acc1", until, "rate_limited")
    cooling = store.get_account("acc1")
    assert (cooling.state, cooling.last_error_kind) == (COOLING, "rate_limited")
    assert cooling.cooldown_until == pytest.approx(until) and cooling.last_error_at
    assert not cooling.usable() and cooling.usable(now=until + 1)
    assert store.mark_ready("acc1")
    ready = store.get_account("acc1")
    assert (ready.state, ready.cooldown_until, ready.last_error_kind) == (
        READY,
        None,
        "rate_limited",
    )
    assert store.mark_dead("acc1", "auth")
    dead = store.get_account("acc1")
    assert (dead.state, dead.last_error_kind) == (DEAD, "auth") and not dead.usable()


def test_counters(store):
    store.upsert_account("acc1", refresh_token="R")
    for _ in range(3):
        store.record_success("acc1")
    store.record_failure("acc1", "upstream_timeout")
    account = store.get_account("acc1")
    assert (account.requests, account.failures) == (4, 1)
    assert account.last_error_kind == "upstream_timeout" and account.state == READY


def test_aliases_follow_the_account(store):
    store.upsert_account("acc1", source=CLIENT, refresh_token="R")
    store.upsert_account("acc2", source=CLIENT, refresh_token="R")
    assert not store.link_alias("alias", "missing")
    assert store.resolve_alias("alias") is None
    assert store.link_alias("alias", "acc1") and store.link_alias("other", "acc1")
    assert store.resolve_alias("alias") == "acc1"
    assert store.link_alias("alias", "acc2")  # the token was re-imported as another account
    assert store.resolve_alias("alias") == "acc2"
    store.delete_account("acc1")
    assert store.resolve_alias("other") is None
    assert store.resolve_alias("alias") == "acc2"
    store.delete_account("acc2")
    assert store.resolve_alias("alias") is None


def test_key_value_area(store):
    store.kv_set("conversations", "c1", {"chat_id": "d3x", "account": "acc1"})
    store.kv_set("conversations", "c2", [1, "two"])
    store.kv_set("cleanup", "c1", "later")
    assert store.kv_get("conversations", "c1") == {"chat_id": "d3x", "account": "acc1"}
    assert store.kv_keys("conversations") == ["c1", "c2"]
    store.kv_set("conversations", "c1", 7)
    assert store.kv_get("conversations", "c1") == 7
    assert store.kv_delete("conversations", "c1") and not store.kv_delete("conversations", "c1")
    assert store.kv_get("conversations", "c1") is None
    assert store.kv_get("cleanup", "c1") == "later"
    with pytest.raises(ValueError, match="namespace"):
        store.kv_set("a:b", "c", 1)


def test_key_value_expiry(store):
    store.kv_set("ns", "short", "gone soon", ttl=0.2)
    store.kv_set("ns", "long", "stays", ttl=30)
    assert store.kv_get("ns", "short") == "gone soon"
    time.sleep(0.35)
    assert store.kv_get("ns", "short") is None
    assert store.kv_keys("ns") == ["long"] and store.kv_get("ns", "long") == "stays"
