"""Leases, refresh locks and the key/value area of the Redis store.

A lease set per account holds its holders scored by expiry; a released lease bumps a counter
and is published on a channel, which waiters everywhere subscribe to while they wait.
"""

from __future__ import annotations

import json
import re
import time

from kimiproxy.accounts.redis_client import RedisBase, milliseconds
from kimiproxy.accounts.store import check_namespace


class RedisCoordination(RedisBase):
    # -- leases ------------------------------------------------------------------------------

    def _lease_keys(self, fingerprint: str) -> list[str]:
        return [self.key("leases", fingerprint), self.key("lease-start", fingerprint)]

    def acquire_lease(
        self, fingerprint: str, holder: str, ttl: float, limit: int = 1, min_interval: float = 0.0
    ) -> bool:
        interval = milliseconds(min_interval) if min_interval > 0 else 0
        arguments = [holder, milliseconds(ttl), int(limit), interval]
        return bool(self._run("ACQUIRE_LEASE", self._lease_keys(fingerprint), arguments))

    def renew_lease(self, fingerprint: str, holder: str, ttl: float) -> bool:
        keys = [self.key("leases", fingerprint)]
        return bool(self._run("RENEW_LEASE", keys, [holder, milliseconds(ttl)]))

    def release_lease(self, fingerprint: str, holder: str) -> None:
        keys = [self.key("leases", fingerprint), self.key("releases")]
        self._run("RELEASE_LEASE", keys, [holder, self.key("released")])

    def in_flight(self, fingerprint: str) -> int:
        return int(self._run("IN_FLIGHT", [self.key("leases", fingerprint)], []))

    def release_mark(self) -> int:
        with self._guarded():
            return int(self._client.get(self.key("releases")) or 0)

    def wait_for_release(self, timeout: float, since: int | None = None) -> bool:
        deadline = time.monotonic() + timeout
        with self._guarded():
            pubsub = self._client.pubsub()
            try:
                pubsub.subscribe(self.key("released"))
                # Only once the subscription is confirmed can the mark be compared without a
                # release slipping between the comparison and the wait.
                while True:
                    remaining = deadline - time.monotonic()
                    message = pubsub.get_message(timeout=max(remaining, 0.0))
                    if message is not None and message["type"] == "subscribe":
                        break
                    if remaining <= 0:
                        return False
                if since is not None and self.release_mark() != since:
                    return True
                while (remaining := deadline - time.monotonic()) > 0:
                    message = pubsub.get_message(timeout=remaining)
                    if message is not None and message["type"] == "message":
                        return True
                return False
            finally:
                pubsub.close()

    # -- refresh locks -----------------------------------------------------------------------

    def acquire_refresh_lock(self, fingerprint: str, holder: str, ttl: float) -> bool:
        keys = [self.key("refresh-lock", fingerprint)]
        return bool(self._run("ACQUIRE_LOCK", keys, [holder, milliseconds(ttl)]))

    def release_refresh_lock(self, fingerprint: str, holder: str) -> bool:
        return bool(self._run("RELEASE_LOCK", [self.key("refresh-lock", fingerprint)], [holder]))

    # -- key/value ---------------------------------------------------------------------------

    def kv_set(self, namespace: str, key: str, value: object, ttl: float | None = None) -> None:
        check_namespace(namespace)
        text = json.dumps(value, separators=(",", ":"))
        with self._guarded():
            expiry = None if ttl is None else milliseconds(ttl)
            self._client.set(self.key("kv", namespace, key), text, px=expiry)

    def kv_get(self, namespace: str, key: str) -> object | None:
        check_namespace(namespace)
        with self._guarded():
            text = self._client.get(self.key("kv", namespace, key))
        return None if text is None else json.loads(text)

    def kv_delete(self, namespace: str, key: str) -> bool:
        check_namespace(namespace)
        with self._guarded():
            return bool(self._client.delete(self.key("kv", namespace, key)))

    def kv_keys(self, namespace: str) -> list[str]:
        check_namespace(namespace)
        start = self.key("kv", namespace, "")
        pattern = re.sub(r"([*?\[\]\\])", r"\\\1", start) + "*"
        with self._guarded():
            keys = self._client.scan_iter(match=pattern, count=500)
            return sorted(key[len(start) :] for key in keys)
