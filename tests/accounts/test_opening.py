"""Which store a KIMIPROXY_STATE URL opens, and the SQLite file's mode and journal."""

from __future__ import annotations

import os
import sqlite3
import stat

import pytest

from kimiproxy.accounts import StoreError, open_store
from kimiproxy.accounts.redis_store import RedisStore
from kimiproxy.accounts.sqlite_store import SQLiteStore


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.mark.parametrize(
    "url",
    [
        "mysql://user:hunter2@db/x",
        "sqlite://relative/state.db",
        "sqlite:///tmp/state.db?cache=shared",
        "redis://:hunter2@localhost:notaport/0",
        "redis://localhost:6379/zero",
        "redis:///0",
        "redis://localhost/0?prefix=",
        "just words",
    ],
)
def test_an_invalid_url_is_one_clear_line_without_its_password(url):
    with pytest.raises(ValueError) as caught:
        open_store(url)
    message = str(caught.value)
    assert message.startswith("KIMIPROXY_STATE=") and "\n" not in message
    assert "redis://host:port/db" in message and "hunter2" not in message


def test_the_default_is_state_db_in_the_data_dir(tmp_path, monkeypatch):
    for url in ("", "sqlite://", None):
        store = open_store(url, tmp_path / "data")
        assert isinstance(store, SQLiteStore) and store.path == tmp_path / "data" / "state.db"
        store.close()
    monkeypatch.chdir(tmp_path)
    store = open_store("")
    assert store.path.resolve() == tmp_path / ".kimiproxy" / "state.db"
    assert (tmp_path / ".kimiproxy" / "state.db").exists()
    store.close()


def test_an_absolute_sqlite_path(tmp_path):
    store = open_store(f"sqlite://{tmp_path}/elsewhere/accounts.db")
    assert store.path == tmp_path / "elsewhere" / "accounts.db"
    assert store.location == f"sqlite://{tmp_path}/elsewhere/accounts.db"
    store.close()


def test_redis_urls_and_prefixes():
    # Opening connects nothing: these name servers that need not exist.
    store = open_store("redis://:hunter2@127.0.0.1:1/3")
    assert isinstance(store, RedisStore) and store.prefix == "kimiproxy:"
    assert "hunter2" not in repr(store) and "hunter2" not in store.location
    assert open_store("redis://127.0.0.1:1/0?prefix=team-a:").prefix == "team-a:"
    assert open_store("rediss://127.0.0.1:1", prefix="team-b:").prefix == "team-b:"


def test_the_file_and_its_new_directory_are_private(tmp_path):
    path = tmp_path / "new" / "state.db"
    store = open_store(f"sqlite://{path}")
    store.upsert_account("acc1", refresh_token="R")
    store.acquire_lease("acc1", "h1", ttl=30)
    assert mode(path.parent) == 0o700
    for name in ("state.db", "state.db-wal", "state.db-shm"):
        assert mode(path.parent / name) == 0o600, name
    store.close()


def test_an_existing_loose_file_is_made_private_but_its_directory_is_left(tmp_path):
    tmp_path.chmod(0o755)
    path = tmp_path / "state.db"
    path.touch(mode=0o644)
    path.chmod(0o644)
    open_store(f"sqlite://{path}").close()
    assert mode(path) == 0o600 and mode(tmp_path) == 0o755


def test_wal_mode_and_schema(tmp_path):
    path = tmp_path / "state.db"
    open_store(f"sqlite://{path}").close()
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert db.execute("PRAGMA user_version").fetchone()[0] == 1
        db.execute("PRAGMA user_version = 99")
    with pytest.raises(StoreError, match="newer kimiproxy"):
        open_store(f"sqlite://{path}")
