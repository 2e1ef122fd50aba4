"""The embedded store: one SQLite file shared by the processes of one host (accounts and
aliases here; leases, locks and key/value in ``sqlite_coordination``)."""

from __future__ import annotations

import sqlite3
import time

from kimiproxy.accounts.records import COOLING, DEAD, POOL, READY, Account
from kimiproxy.accounts.sqlite_coordination import SQLiteCoordination
from kimiproxy.accounts.store import check_source, encode_quota


class SQLiteStore(SQLiteCoordination):
    # -- accounts ----------------------------------------------------------------------------

    def upsert_account(
        self,
        fingerprint: str,
        *,
        source: str | None = None,
        label: str | None = None,
        refresh_token: str | None = None,
        access_token: str | None = None,
        access_expires_at: float | None = None,
        quota: dict | None = None,
        replace_tokens: bool = False,
    ) -> Account:
        check_source(source)
        now = time.time()
        tokens = {
            "refresh_token": self._seal(refresh_token),
            "access_token": self._seal(access_token),
            "access_expires_at": access_expires_at,
        }
        with self._transaction(durable=True) as db:
            exists = db.execute(
                "SELECT 1 FROM accounts WHERE fingerprint = ?", (fingerprint,)
            ).fetchone()
            if not exists:
                db.execute(
                    "INSERT INTO accounts (fingerprint, source, label, refresh_token, access_token,"
                    " access_expires_at, quota, created_at, updated_at)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (fingerprint, source or POOL, label or "", *tokens.values())
                    + (encode_quota(quota), now, now),
                )
            else:
                changes: dict = {"updated_at": now}
                if source is not None:
                    changes["source"] = source
                if label is not None:
                    changes["label"] = label
                if quota is not None:
                    changes["quota"] = encode_quota(quota)
                if replace_tokens:
                    changes.update(tokens)
                _update(db, fingerprint, changes)
            row = db.execute("SELECT * FROM accounts WHERE fingerprint = ?", (fingerprint,))
            return self._row_account(row)[0]

    def get_account(self, fingerprint: str) -> Account | None:
        with self._lock, self._guarded():
            cursor = self._connection().execute(
                "SELECT * FROM accounts WHERE fingerprint = ?", (fingerprint,)
            )
            accounts = self._row_account(cursor)
        return accounts[0] if accounts else None

    def list_accounts(self, source: str | None = None) -> list[Account]:
        check_source(source)
        with self._lock, self._guarded():
            cursor = self._connection().execute(
                "SELECT * FROM accounts WHERE ? IS NULL OR source = ?"
                " ORDER BY created_at, fingerprint",
                (source, source),
            )
            return self._row_account(cursor)

    def _row_account(self, cursor: sqlite3.Cursor) -> list[Account]:
        names = [column[0] for column in cursor.description]
        return [
            self._account(row[0], dict(zip(names, row, strict=True))) for row in cursor.fetchall()
        ]

    def delete_account(self, fingerprint: str) -> bool:
        with self._transaction() as db:
            db.execute("DELETE FROM aliases WHERE account = ?", (fingerprint,))
            return (
                db.execute("DELETE FROM accounts WHERE fingerprint = ?", (fingerprint,)).rowcount
                > 0
            )

    def set_tokens(
        self,
        fingerprint: str,
        refresh_token: str | None,
        access_token: str | None,
        access_expires_at: float | None,
    ) -> bool:
        changes = {
            "refresh_token": self._seal(refresh_token),
            "access_token": self._seal(access_token),
            "access_expires_at": access_expires_at,
            "updated_at": time.time(),
        }
        with self._transaction(durable=True) as db:
            return _update(db, fingerprint, changes)

    def _change(self, fingerprint: str, changes: dict, counts: tuple[str, ...] = ()) -> bool:
        changes["updated_at"] = time.time()
        with self._transaction() as db:
            return _update(db, fingerprint, changes, counts)

    def mark_ready(self, fingerprint: str) -> bool:
        return self._change(fingerprint, {"state": READY, "cooldown_until": None})

    def mark_cooling(self, fingerprint: str, until: float, error_kind: str) -> bool:
        return self._change(
            fingerprint,
            {
                "state": COOLING,
                "cooldown_until": until,
                "last_error_kind": error_kind,
                "last_error_at": time.time(),
            },
        )

    def mark_dead(self, fingerprint: str, error_kind: str) -> bool:
        changes = {"state": DEAD, "last_error_kind": error_kind, "last_error_at": time.time()}
        return self._change(fingerprint, changes)

    def record_success(self, fingerprint: str) -> bool:
        return self._change(fingerprint, {}, ("requests",))

    def record_failure(self, fingerprint: str, kind: str) -> bool:
        changes = {"last_error_kind": kind, "last_error_at": time.time()}
        return self._change(fingerprint, changes, ("requests", "failures"))

    # -- aliases -----------------------------------------------------------------------------

    def link_alias(self, alias_fp: str, account_fp: str) -> bool:
        with self._transaction() as db:
            if not db.execute(
                "SELECT 1 FROM accounts WHERE fingerprint = ?", (account_fp,)
            ).fetchone():
                return False
            db.execute(
                "INSERT INTO aliases (alias, account) VALUES (?, ?)"
                " ON CONFLICT (alias) DO UPDATE SET account = excluded.account",
                (alias_fp, account_fp),
            )
            return True

    def resolve_alias(self, alias_fp: str) -> str | None:
        rows = self._read("SELECT account FROM aliases WHERE alias = ?", (alias_fp,))
        return rows[0][0] if rows else None


def _update(
    db: sqlite3.Connection, fingerprint: str, changes: dict, counts: tuple[str, ...] = ()
) -> bool:
    """Set ``changes`` and add one to each of ``counts``; whether the account exists. The
    column names come from this module, never from a caller."""
    assignments = [f"{name} = ?" for name in changes] + [f"{name} = {name} + 1" for name in counts]
    cursor = db.execute(
        f"UPDATE accounts SET {', '.join(assignments)} WHERE fingerprint = ?",
        (*changes.values(), fingerprint),
    )
    return cursor.rowcount > 0
