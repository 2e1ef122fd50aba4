"""One of several processes competing for leases on one account (``test_contention``).

Each granted lease is counted in a shared file under an exclusive ``flock``; the file keeps the
number of leases held now, the most ever held at once, and how many were granted in all.

Run: ``python -m tests.accounts.contender URL PREFIX ACCOUNT LIMIT ROUNDS COUNTER_FILE``.
"""

from __future__ import annotations

import fcntl
import sys
import time
from pathlib import Path

from kimiproxy.accounts import new_holder, open_store


def count(path: Path, step: int, store, account: str) -> None:
    with path.open("r+") as file:
        fcntl.flock(file, fcntl.LOCK_EX)
        now, most, total = (int(n) for n in file.read().split())
        now += step
        if step > 0:
            total += 1
            # The store's own count while this process holds a lease is a second witness.
            most = max(most, now, store.in_flight(account))
        file.seek(0)
        file.truncate()
        file.write(f"{now} {most} {total}")


def main(url: str, prefix: str, account: str, limit: str, rounds: str, counter: str) -> None:
    store = open_store(url, prefix=prefix or None)
    path = Path(counter)
    for _ in range(int(rounds)):
        holder = new_holder()
        while True:
            mark = store.release_mark()
            if store.acquire_lease(account, holder, ttl=30, limit=int(limit)):
                break
            store.wait_for_release(0.05, since=mark)
        count(path, +1, store, account)
        time.sleep(0.001)
        count(path, -1, store, account)
        store.release_lease(account, holder)
    store.close()


if __name__ == "__main__":
    main(*sys.argv[1:])
