"""Leases, refresh locks and the key/value area of the embedded (SQLite) store.

A waiter for a released lease polls a change counter every ``poll_interval`` seconds (a cheap
read in WAL mode); ``time.sleep`` yields under gevent. SQLite calls themselves do not yield, but
each takes a fraction of a millisecond.
"""

from __future__ import annotations

import json
import time

from kimiproxy.accounts.sqlite_db import SQLiteBase
from kimiproxy.accounts.store import check_namespace

_RELEASES = "releases"


class SQLiteCoordination(SQLiteBase):
    # -- leases ------------------------------------------------------------------------------

    def acquire_lease(
        self, fingerprint: str, holder: str, ttl: float, limit: int = 1, min_interval: float = 0.0
    ) -> bool:
        now = time.time()
        with self._transaction() as db:
            db.execute(
                "DELETE FROM leases WHERE account = ? AND expires_at <= ?", (fingerprint, now)
            )
            if db.execute(
                "UPDATE leases SET expires_at = ? WHERE account = ? AND holder = ?",
                (now + ttl, fingerprint, holder),
            ).rowcount:
                return True
            if limit > 0:
                (count,) = db.execute(
                    "SELECT COUNT(*) FROM leases WHERE account = ?", (fingerprint,)
                ).fetchone()
                if count >= limit:
                    return False
            if min_interval > 0:
                row = db.execute(
                    "SELECT started_at FROM lease_starts WHERE account = ?", (fingerprint,)
                ).fetchone()
                if row and now - row[0] < min_interval:
                    return False
            db.execute(
                "INSERT INTO leases (account, holder, expires_at) VALUES (?, ?, ?)",
                (fingerprint, holder, now + ttl),
            )
            db.execute(
                "INSERT INTO lease_starts (account, started_at) VALUES (?, ?)"
                " ON CONFLICT (account) DO UPDATE SET started_at = excluded.started_at",
                (fingerprint, now),
            )
            return True

    def renew_lease(self, fingerprint: str, holder: str, ttl: float) -> bool:
        now = time.time()
        with self._transaction() as db:
            return bool(
                db.execute(
                    "UPDATE leases SET expires_at = ?"
                    " WHERE account = ? AND holder = ? AND expires_at > ?",
                    (now + ttl, fingerprint, holder, now),
                ).rowcount
            )

    def release_lease(self, fingerprint: str, holder: str) -> None:
        with self._transaction() as db:
            db.execute("DELETE FROM leases WHERE account = ? AND holder = ?", (fingerprint, holder))
            db.execute(
                "INSERT INTO counters (name, value) VALUES (?, 1)"
                " ON CONFLICT (name) DO UPDATE SET value = value + 1",
                (_RELEASES,),
            )

    def in_flight(self, fingerprint: str) -> int:
        rows = self._read(
            "SELECT COUNT(*) FROM leases WHERE account = ? AND expires_at > ?",
            (fingerprint, time.time()),
        )
        return rows[0][0]

    def release_mark(self) -> int:
        rows = self._read("SELECT value FROM counters WHERE name = ?", (_RELEASES,))
        return rows[0][0] if rows else 0

    def wait_for_release(self, timeout: float, since: int | None = None) -> bool:
        deadline = time.monotonic() + timeout
        start = self.release_mark() if since is None else since
        while self.release_mark() == start:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            time.sleep(min(self.poll_interval, remaining))
        return True

    # -- refresh locks -----------------------------------------------------------------------

    def acquire_refresh_lock(self, fingerprint: str, holder: str, ttl: float) -> bool:
        now = time.time()
        with self._transaction() as db:
            return bool(
                db.execute(
                    "INSERT INTO refresh_locks (account, holder, expires_at) VALUES (?, ?, ?)"
                    " ON CONFLICT (account) DO UPDATE SET"
                    " holder = excluded.holder, expires_at = excluded.expires_at"
                    " WHERE refresh_locks.expires_at <= ? OR refresh_locks.holder = ?",
                    (fingerprint, holder, now + ttl, now, holder),
                ).rowcount
            )

    def release_refresh_lock(self, fingerprint: str, holder: str) -> bool:
        with self._transaction() as db:
            return bool(
                db.execute(
                    "DELETE FROM refresh_locks WHERE account = ? AND holder = ?",
                    (fingerprint, holder),
                ).rowcount
            )

    # -- key/value ---------------------------------------------------------------------------

    def kv_set(self, namespace: str, key: str, value: object, ttl: float | None = None) -> None:
        check_namespace(namespace)
        text = json.dumps(value, separators=(",", ":"))
        now = time.time()
        with self._transaction() as db:
            db.execute("DELETE FROM kv WHERE expires_at <= ?", (now,))
            db.execute(
                "INSERT INTO kv (namespace, key, value, expires_at) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (namespace, key) DO UPDATE SET"
                " value = excluded.value, expires_at = excluded.expires_at",
                (namespace, key, text, None if ttl is None else now + ttl),
            )

    def kv_get(self, namespace: str, key: str) -> object | None:
        check_namespace(namespace)
        rows = self._read(
            "SELECT value FROM kv WHERE namespace = ? AND key = ?"
            " AND (expires_at IS NULL OR expires_at > ?)",
            (namespace, key, time.time()),
        )
        return json.loads(rows[0][0]) if rows else None

    def kv_delete(self, namespace: str, key: str) -> bool:
        check_namespace(namespace)
        with self._transaction() as db:
            return bool(
                db.execute(
                    "DELETE FROM kv WHERE namespace = ? AND key = ?", (namespace, key)
                ).rowcount
            )

    def kv_keys(self, namespace: str) -> list[str]:
        check_namespace(namespace)
        rows = self._read(
            "SELECT key FROM kv WHERE namespace = ? AND (expires_at IS NULL OR expires_at > ?)"
            " ORDER BY key",
            (namespace, time.time()),
        )
        return [row[0] for row in rows]
