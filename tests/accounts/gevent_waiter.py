"""Under gevent, a request waiting for a lease must not stall the worker (``test_gevent``).

Three greenlets: one waits for a release, one releases after a while, one ticks meanwhile.
Prints ``woken=<bool> ticks=<n>``. Run: ``python -m tests.accounts.gevent_waiter URL PREFIX``.
"""

from gevent import monkey

monkey.patch_all()

import sys  # noqa: E402

import gevent  # noqa: E402

from kimiproxy.accounts import open_store  # noqa: E402


def main(url: str, prefix: str) -> None:
    store = open_store(url, prefix=prefix or None)
    store.acquire_lease("acc", "h1", ttl=30)
    ticks = []

    def tick():
        while True:
            ticks.append(1)
            gevent.sleep(0.01)

    def release():
        gevent.sleep(0.5)
        store.release_lease("acc", "h1")

    ticker = gevent.spawn(tick)
    releaser = gevent.spawn(release)
    woken = store.wait_for_release(10)
    releaser.join()
    ticker.kill()
    print(f"woken={woken} ticks={len(ticks)}")


if __name__ == "__main__":
    main(*sys.argv[1:])
