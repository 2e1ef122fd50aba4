"""The shared store: Redis, for several instances of kimiproxy (accounts and aliases here;
leases, locks and key/value in ``redis_coordination``).

An account is a hash of strings under ``<prefix>account:<fingerprint>``, listed in the set
``<prefix>accounts``; an alias is a string key, with a set per account of the aliases pointing
at it so deleting the account removes them.
"""

from __future__ import annotations

import json
import time

from kimiproxy.accounts.records import COOLING, DEAD, POOL, READY, Account
from kimiproxy.accounts.redis_coordination import RedisCoordination
from kimiproxy.accounts.store import check_source, encode_quota


def _fields(values: dict, *, drop_none: bool) -> str:
    """Hash fields as the scripts take them: strings, or JSON null to delete a field."""
    encoded = {}
    for name, value in values.items():
        if value is None:
            if not drop_none:
                encoded[name] = None
        else:
            encoded[name] = repr(value) if isinstance(value, float) else str(value)
    return json.dumps(encoded)


class RedisStore(RedisCoordination):
    def _account_keys(self, fingerprint: str) -> list[str]:
        return [self.key("account", fingerprint), self.key("accounts")]

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
        new = {
            "source": source or POOL,
            "label": label or "",
            "state": READY,
            "requests": 0,
            "failures": 0,
            "quota": encode_quota(quota),
            "created_at": now,
            "updated_at": now,
            **tokens,
        }
        changes: dict = {"updated_at": now, "source": source, "label": label}
        changes["quota"] = encode_quota(quota)
        changes = {name: value for name, value in changes.items() if value is not None}
        if replace_tokens:
            changes.update(tokens)
        arguments = [fingerprint, _fields(new, drop_none=True), _fields(changes, drop_none=False)]
        flat = self._run("UPSERT_ACCOUNT", self._account_keys(fingerprint), arguments)
        return self._account(fingerprint, dict(zip(flat[::2], flat[1::2], strict=True)))

    def get_account(self, fingerprint: str) -> Account | None:
        with self._guarded():
            stored = self._client.hgetall(self.key("account", fingerprint))
        return self._account(fingerprint, stored) if stored else None

    def list_accounts(self, source: str | None = None) -> list[Account]:
        check_source(source)
        with self._guarded():
            fingerprints = sorted(self._client.smembers(self.key("accounts")))
            pipeline = self._client.pipeline(transaction=False)
            for fingerprint in fingerprints:
                pipeline.hgetall(self.key("account", fingerprint))
            stored = pipeline.execute()
        accounts = [
            self._account(fingerprint, fields)
            for fingerprint, fields in zip(fingerprints, stored, strict=True)
            if fields and (source is None or fields.get("source") == source)
        ]
        return sorted(accounts, key=lambda account: (account.created_at, account.fingerprint))

    def delete_account(self, fingerprint: str) -> bool:
        keys = [*self._account_keys(fingerprint), self.key("aliases", fingerprint)]
        return bool(self._run("DELETE_ACCOUNT", keys, [fingerprint, self.key("alias", "")]))

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
        }
        return self._change(fingerprint, changes)

    def _change(self, fingerprint: str, changes: dict, counts: tuple[str, ...] = ()) -> bool:
        changes["updated_at"] = time.time()
        arguments = [_fields(changes, drop_none=False), json.dumps(dict.fromkeys(counts, 1))]
        keys = [self.key("account", fingerprint)]
        return bool(self._run("UPDATE_ACCOUNT", keys, arguments))

    def mark_ready(self, fingerprint: str) -> bool:
        return self._change(fingerprint, {"state": READY, "cooldown_until": None})

    def mark_cooling(self, fingerprint: str, until: float, error_kind: str) -> bool:
        changes = {
            "state": COOLING,
            "cooldown_until": float(until),
            "last_error_kind": error_kind,
            "last_error_at": time.time(),
        }
        return self._change(fingerprint, changes)

    def mark_dead(self, fingerprint: str, error_kind: str) -> bool:
        changes = {"state": DEAD, "last_error_kind": error_kind, "last_error_at": time.time()}
        return self._change(fingerprint, changes)

    def record_success(self, fingerprint: str) -> bool:
        return self._change(fingerprint, {}, ("requests",))

    def record_failure(self, fingerprint: str, kind: str) -> bool:
        changes = {"last_error_kind": kind, "last_error_at": time.time()}
        return self._change(fingerprint, changes, ("requests", "failures"))

    def link_alias(self, alias_fp: str, account_fp: str) -> bool:
        keys = [
            self.key("alias", alias_fp),
            self.key("account", account_fp),
            self.key("aliases", account_fp),
        ]
        return bool(self._run("LINK_ALIAS", keys, [alias_fp, account_fp, self.key("aliases", "")]))

    def resolve_alias(self, alias_fp: str) -> str | None:
        with self._guarded():
            return self._client.get(self.key("alias", alias_fp))
