"""Which account a credential names: a client token by its whole hash, never by the short
public fingerprint alone."""

from __future__ import annotations

import hashlib

from kimiproxy.accounts import directory as directory_module
from kimiproxy.accounts.directory import AccountDirectory, pool_credential, token_key


def test_a_client_token_becomes_one_account_found_by_its_whole_hash(store):
    first = AccountDirectory(store).account_of("client-token-one")
    again = AccountDirectory(store).account_of("client-token-one")  # another worker
    assert first == again and store.resolve_alias(token_key("client-token-one")) == first
    assert store.get_account(first).source == "client"


def test_a_token_sharing_the_short_fingerprint_gets_an_account_of_its_own(store, monkeypatch):
    def short(token: str) -> str:  # every first try collides; a retry gets its own id
        return "a" * 12 if "#" not in token else hashlib.sha256(token.encode()).hexdigest()[:12]

    monkeypatch.setattr(directory_module, "fingerprint", short)
    victim = AccountDirectory(store).account_of("victim-token")
    store.set_tokens(victim, "rotated-refresh", "access", 9e9)
    attacker = AccountDirectory(store).account_of("attacker-token")
    assert attacker != victim
    assert store.get_account(attacker).refresh_token == "attacker-token"
    assert store.get_account(victim).refresh_token == "rotated-refresh"


def test_pool_credentials_name_their_account(store):
    assert AccountDirectory(store).account_of(pool_credential("abcdef012345")) == "abcdef012345"
