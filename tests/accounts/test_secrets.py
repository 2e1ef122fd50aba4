"""Tokens at rest and in messages: sealed with the secret key, unreadable with another one,
never shown by a repr or an error."""

from __future__ import annotations

import sqlite3
import time

import pytest
from cryptography.fernet import Fernet, InvalidToken

from kimiproxy.accounts import SealedTokenError, StoreUnavailable
from kimiproxy.accounts.cipher import SEALED_PREFIX, TokenCipher, derive_fernet_key
from kimiproxy.accounts.sqlite_store import SQLiteStore

KEY = "correct horse battery staple"
REFRESH = "eyJhbGciOiJIUzUxMiJ9.refresh-token-that-must-stay-secret"
ROTATED = "eyJhbGciOiJIUzUxMiJ9.rotated-refresh-token-also-secret"
ACCESS = "eyJhbGciOiJIUzUxMiJ9.access-token-that-must-stay-secret"


def test_with_a_key_the_raw_store_holds_no_token(backend):
    store = backend.open(secret_key=KEY)
    store.upsert_account("acc1", refresh_token=REFRESH, access_token=ACCESS)
    store.set_tokens("acc1", ROTATED, ACCESS, time.time() + 900)
    assert store.get_account("acc1").refresh_token == ROTATED
    raw = backend.raw_bytes()
    assert b"acc1" in raw  # the dump does hold the account
    for token in (REFRESH, ROTATED, ACCESS):
        assert token.encode() not in raw
    sealed = backend.raw_refresh_token("acc1")
    assert sealed.startswith(SEALED_PREFIX)
    body = sealed[len(SEALED_PREFIX) :].encode()
    assert Fernet(derive_fernet_key(KEY)).decrypt(body).decode() == ROTATED
    with pytest.raises(InvalidToken):
        Fernet(derive_fernet_key("a wrong key")).decrypt(body)
    store.close()


def test_without_a_key_tokens_are_stored_plain(backend):
    store = backend.open()
    store.upsert_account("acc1", refresh_token=REFRESH)
    assert backend.raw_refresh_token("acc1") == REFRESH
    store.close()


def test_a_wrong_or_missing_key_cannot_read_tokens(backend):
    backend.open(secret_key=KEY).upsert_account("acc1", refresh_token=REFRESH)
    for secret_key, reason in (("a wrong key", "not the key"), (None, "set KIMIPROXY_SECRET_KEY")):
        with pytest.raises(SealedTokenError, match=reason) as caught:
            backend.open(secret_key=secret_key).get_account("acc1")
        assert REFRESH not in str(caught.value) and KEY not in str(caught.value)
    assert backend.open(secret_key=KEY).get_account("acc1").refresh_token == REFRESH


def test_a_key_added_later_reads_plain_tokens_and_seals_new_ones(backend):
    backend.open().upsert_account("acc1", refresh_token=REFRESH)
    keyed = backend.open(secret_key=KEY)
    assert keyed.get_account("acc1").refresh_token == REFRESH
    keyed.set_tokens("acc1", ROTATED, None, None)
    assert backend.raw_refresh_token("acc1").startswith(SEALED_PREFIX)
    assert keyed.get_account("acc1").refresh_token == ROTATED


def test_reprs_show_no_token_and_no_key(backend):
    store = backend.open(secret_key=KEY)
    account = store.upsert_account("acc1", refresh_token=REFRESH, access_token=ACCESS)
    for text in (repr(account), str(account), f"{account}", repr([account]), repr(store)):
        assert REFRESH not in text and ACCESS not in text and KEY not in text
    assert "refresh_token=<hidden>" in repr(account) and "acc1" in repr(account)
    assert "access_token=None" in repr(store.upsert_account("acc2"))
    assert "encrypts=True" in repr(store)


def test_an_error_while_storing_a_token_does_not_quote_it(tmp_path):
    path = tmp_path / "state.db"
    store = SQLiteStore(path, TokenCipher(KEY), busy_timeout=0.2)
    store.upsert_account("acc1", refresh_token=REFRESH)
    other_process = sqlite3.connect(path, isolation_level=None)
    other_process.execute("BEGIN EXCLUSIVE")  # holds the write lock past the busy timeout
    try:
        with pytest.raises(StoreUnavailable, match="locked") as caught:
            store.set_tokens("acc1", ROTATED, ACCESS, None)
    finally:
        other_process.execute("ROLLBACK")
        other_process.close()
    message = str(caught.value)
    assert ROTATED not in message and ACCESS not in message and str(path) in message
    assert caught.value.__suppress_context__  # a traceback does not print the raw error
    assert store.set_tokens("acc1", ROTATED, ACCESS, None)  # works again once the lock is gone
