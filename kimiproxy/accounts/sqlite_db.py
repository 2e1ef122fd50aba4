"""The SQLite file behind the embedded store and the connection to it.

The file is created private (0600, in a 0700 directory if it creates one), in WAL mode so readers
never wait for the writer, with a busy timeout so several processes on one host take turns at
writing. Read-modify-write steps run in ``BEGIN IMMEDIATE`` transactions: the write lock is
taken before the read, so two processes never both see the same free slot.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from kimiproxy.accounts.cipher import TokenCipher
from kimiproxy.accounts.errors import StoreError, StoreUnavailable
from kimiproxy.accounts.store import AccountStore

SCHEMA_VERSION = 1

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS accounts (
        fingerprint TEXT PRIMARY KEY,
        source TEXT NOT NULL,
        label TEXT NOT NULL DEFAULT '',
        refresh_token TEXT,
        access_token TEXT,
        access_expires_at REAL,
        state TEXT NOT NULL DEFAULT 'ready',
        cooldown_until REAL,
        last_error_kind TEXT,
        last_error_at REAL,
        requests INTEGER NOT NULL DEFAULT 0,
        failures INTEGER NOT NULL DEFAULT 0,
        quota TEXT,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL
    )""",
    "CREATE TABLE IF NOT EXISTS aliases (alias TEXT PRIMARY KEY, account TEXT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS aliases_by_account ON aliases (account)",
    """CREATE TABLE IF NOT EXISTS leases (
        account TEXT NOT NULL, holder TEXT NOT NULL, expires_at REAL NOT NULL,
        PRIMARY KEY (account, holder)
    ) WITHOUT ROWID""",
    "CREATE TABLE IF NOT EXISTS lease_starts (account TEXT PRIMARY KEY, started_at REAL NOT NULL)",
    """CREATE TABLE IF NOT EXISTS refresh_locks (
        account TEXT PRIMARY KEY, holder TEXT NOT NULL, expires_at REAL NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS kv (
        namespace TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL, expires_at REAL,
        PRIMARY KEY (namespace, key)
    ) WITHOUT ROWID""",
    "CREATE INDEX IF NOT EXISTS kv_by_expiry ON kv (expires_at) WHERE expires_at IS NOT NULL",
    "CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL)",
)


def prepare_file(path: Path) -> None:
    """Create the directory (0700) and the empty database file (0600) if they are missing, and
    keep the file private: it holds tokens. SQLite gives its -wal and -shm files the same mode.
    """
    directory = path.parent
    if not directory.exists():
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(directory, 0o700)  # mkdir's mode is filtered by the umask
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    os.close(descriptor)
    try:
        os.chmod(path, 0o600)
    except PermissionError:
        pass  # another user's file: theirs to protect


def connect(path: Path, busy_timeout: float) -> sqlite3.Connection:
    """An autocommit connection (transactions are explicit), schema in place."""
    db = sqlite3.connect(path, timeout=busy_timeout, isolation_level=None, check_same_thread=False)
    try:
        db.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
        _enable_wal(db, busy_timeout)
        # NORMAL in WAL mode survives a crashed process; writes that must survive a power cut
        # too (tokens) switch to FULL for their commit.
        db.execute("PRAGMA synchronous = NORMAL")
        db.execute("BEGIN IMMEDIATE")
        try:
            version = db.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise StoreError(
                    f"the account store {path} was written by a newer kimiproxy "
                    f"(schema {version}, this one knows {SCHEMA_VERSION})"
                )
            for statement in _SCHEMA:
                db.execute(statement)
            db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
    except BaseException:
        db.close()
        raise
    return db


def _enable_wal(db: sqlite3.Connection, busy_timeout: float) -> None:
    # Switching to WAL needs a moment alone with the file, and SQLite does not always use the
    # busy handler for it: retry while other processes open the same new file.
    deadline = time.monotonic() + busy_timeout
    while True:
        try:
            mode = db.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)
            continue
        if mode.lower() != "wal":
            raise StoreError(f"SQLite refused WAL mode for the account store (it is {mode!r})")
        return


class SQLiteBase(AccountStore):
    """The connection to the file: one per process, used by one thread or greenlet at a
    time; transactions that map SQLite's errors to the store's."""

    def __init__(
        self,
        path: Path,
        cipher: TokenCipher,
        *,
        busy_timeout: float = 5.0,
        poll_interval: float = 0.025,
    ):
        super().__init__(cipher)
        self.path = Path(path)
        self.location = f"sqlite://{self.path.resolve()}"
        self.busy_timeout = busy_timeout
        self.poll_interval = poll_interval
        # One connection per process, used by one thread or greenlet at a time.
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None
        self._pid = 0
        with self._guarded():
            prepare_file(self.path)
            self._connection()

    # -- plumbing ----------------------------------------------------------------------------

    def _connection(self) -> sqlite3.Connection:
        if self._db is None or self._pid != os.getpid():  # a fork must not share the handle
            self._db = connect(self.path, self.busy_timeout)
            self._pid = os.getpid()
        return self._db

    @contextmanager
    def _guarded(self) -> Iterator[None]:
        try:
            yield
        except sqlite3.OperationalError as error:
            raise StoreUnavailable(
                f"the account store {self.location} is unavailable: {error}"
            ) from None
        except (sqlite3.Error, OSError) as error:
            raise StoreError(f"the account store {self.location} failed: {error}") from None

    @contextmanager
    def _transaction(self, durable: bool = False) -> Iterator[sqlite3.Connection]:
        """A write transaction; with ``durable``, committed with a full sync."""
        with self._lock, self._guarded():
            db = self._connection()
            if durable:
                db.execute("PRAGMA synchronous = FULL")
            try:
                db.execute("BEGIN IMMEDIATE")
                try:
                    yield db
                    db.execute("COMMIT")
                except BaseException:
                    if db.in_transaction:
                        db.execute("ROLLBACK")
                    raise
            finally:
                if durable:
                    db.execute("PRAGMA synchronous = NORMAL")

    def _read(self, sql: str, parameters: tuple = ()) -> list[tuple]:
        with self._lock, self._guarded():
            return self._connection().execute(sql, parameters).fetchall()

    def ping(self) -> None:
        self._read("SELECT 1")

    def close(self) -> None:
        with self._lock:
            if self._db is not None and self._pid == os.getpid():
                self._db.close()
            self._db = None
