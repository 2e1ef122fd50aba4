"""Importing the configured tokens into the store, and following the tokens and keys files,
on both backends."""

from __future__ import annotations

import os

import pytest

from kimiproxy.accounts import CLIENT, POOL, fingerprint
from kimiproxy.pool.importer import (
    FROM_API,
    FROM_CONFIG,
    add_from_api,
    import_configured,
    origin_of,
)
from kimiproxy.pool.lines import TokenEntry
from kimiproxy.pool.watcher import PoolConfig
from kimiproxy.settings import SettingsError, load_config


def pool_fps(store) -> set[str]:
    return {account.fingerprint for account in store.list_accounts(source=POOL)}


def test_import_adds_labels_and_keeps_rotated_tokens(store):
    result = import_configured(store, [TokenEntry("tok-a", "work"), TokenEntry("tok-b")])
    assert (result.configured, result.added, result.removed) == (2, 2, 0)
    account = store.get_account(fingerprint("tok-a"))
    assert account.source == POOL and account.label == "work"
    assert origin_of(store, fingerprint("tok-a")) == FROM_CONFIG
    store.set_tokens(fingerprint("tok-a"), "tok-a-rotated", "access", None)
    again = import_configured(store, [TokenEntry("tok-a", "home"), TokenEntry("tok-b")])
    assert (again.added, again.removed) == (0, 0)
    account = store.get_account(fingerprint("tok-a"))
    assert account.refresh_token == "tok-a-rotated" and account.label == "home"


def test_accounts_the_configuration_drops_are_deleted_those_the_api_added_kept(store):
    import_configured(store, [TokenEntry("tok-a"), TokenEntry("tok-b")])
    add_from_api(store, "tok-api", "added by hand")
    store.upsert_account(fingerprint("client-tok"), source=CLIENT, refresh_token="client-tok")
    result = import_configured(store, [TokenEntry("tok-b"), TokenEntry("tok-c")])
    assert (result.added, result.removed) == (1, 1)
    assert pool_fps(store) == {fingerprint(t) for t in ("tok-b", "tok-c", "tok-api")}
    assert store.get_account(fingerprint("client-tok")) is not None
    assert origin_of(store, fingerprint("tok-a")) is None
    assert origin_of(store, fingerprint("tok-api")) == FROM_API


def test_an_empty_configuration_deletes_nothing(store, caplog):
    import_configured(store, [TokenEntry("tok-a"), TokenEntry("tok-b")])
    store.set_tokens(fingerprint("tok-a"), "rotated-a", None, None)
    result = import_configured(store, [])
    assert result.removed == 0 and "names no account" in caplog.text
    assert store.get_account(fingerprint("tok-a")).refresh_token == "rotated-a"
    assert pool_fps(store) == {fingerprint("tok-a"), fingerprint("tok-b")}


def test_a_configured_token_the_api_added_first_stays_the_apis(store):
    add_from_api(store, "tok-a", None)
    import_configured(store, [TokenEntry("tok-a")])
    import_configured(store, [])
    assert pool_fps(store) == {fingerprint("tok-a")}


def test_a_client_account_whose_token_is_configured_becomes_a_pool_account(store):
    store.upsert_account(fingerprint("tok-a"), source=CLIENT, refresh_token="tok-a")
    import_configured(store, [TokenEntry("tok-a")])
    assert store.get_account(fingerprint("tok-a")).source == POOL


def state_url(backend) -> str:
    return backend.url + (f"?prefix={backend.prefix}" if backend.prefix else "")


def pool_config(backend, store, tokens_file, **settings) -> PoolConfig:
    chosen = load_config(
        {
            "API_KEYS": "key",
            "TOKENS_FILE": str(tokens_file),
            "STATE": state_url(backend),
            **settings,
        },
        environ={},
    )
    config = PoolConfig(chosen, store, poll_interval=0.01)
    config.load()
    return config


def rewrite(path, text: str, keep_look: bool = False) -> None:
    """Write ``text`` in place; with ``keep_look``, give the file back its old size (the text
    must be as long), modification time and inode, so only a requested reload notices."""
    before = path.stat()
    with open(path, "r+b") as file:
        file.seek(0)
        file.truncate()
        file.write(text.encode())
    if keep_look:
        assert path.stat().st_size == before.st_size
        os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))


def test_the_tokens_file_is_followed_once_a_change_holds_still(backend, store, tmp_path):
    tokens = tmp_path / "tokens"
    tokens.write_text("work=tok-a\ntok-b\n")
    config = pool_config(backend, store, tokens, KIMI_TOKENS="tok-env")
    assert pool_fps(store) == {fingerprint(t) for t in ("tok-a", "tok-b", "tok-env")}
    assert store.get_account(fingerprint("tok-a")).label == "work"
    rewrite(tokens, "tok-b\ntok-c\n")
    config.tick()  # the change is seen, not yet taken: it may be half-written
    assert fingerprint("tok-c") not in pool_fps(store)
    config.tick()
    assert pool_fps(store) == {fingerprint(t) for t in ("tok-b", "tok-c", "tok-env")}


def test_a_requested_reload_reads_a_file_that_looks_unchanged(backend, store, tmp_path):
    tokens = tmp_path / "tokens"
    tokens.write_text("tok-a\n")
    config = pool_config(backend, store, tokens)
    rewrite(tokens, "tok-z\n", keep_look=True)
    config.tick()
    config.tick()
    assert pool_fps(store) == {fingerprint("tok-a")}
    config.request_reload()
    config.tick()
    assert pool_fps(store) == {fingerprint("tok-z")}


def test_a_vanished_file_keeps_the_pool_and_comes_back(backend, store, tmp_path, caplog):
    tokens = tmp_path / "tokens"
    tokens.write_text("tok-a\n")
    config = pool_config(backend, store, tokens)
    tokens.unlink()
    config.tick()
    assert pool_fps(store) == {fingerprint("tok-a")}
    assert "is gone" in caplog.text
    tokens.write_text("tok-b\n")
    config.tick()
    config.tick()
    assert pool_fps(store) == {fingerprint("tok-b")}


def test_the_keys_file_is_followed(backend, store, tmp_path):
    keys = tmp_path / "keys"
    keys.write_text("key-1\n")
    chosen = load_config({"API_KEYS_FILE": str(keys), "STATE": state_url(backend)}, environ={})
    config = PoolConfig(chosen, store, poll_interval=0.01)
    config.load()
    assert config.keys.matches("key-1")
    rewrite(keys, "key-2\n")
    config.tick()
    config.tick()
    assert config.keys.matches("key-2") and not config.keys.matches("key-1")


def test_a_missing_tokens_file_stops_the_start(backend, store, tmp_path):
    with pytest.raises(SettingsError, match="^KIMIPROXY_TOKENS_FILE: cannot read"):
        pool_config(backend, store, tmp_path / "missing")
