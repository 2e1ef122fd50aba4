"""Under gevent, a client that goes away mid-refresh must not cost the account its tokens
(``test_upstream_keeper``): the refresh, the storing of the rotated tokens and the release of
the refresh lock go on after ``ClientDisconnected`` is thrown into the waiting greenlet.

Prints one JSON object of what was seen. Run:
``python -m tests.upstream.gevent_refresh STATE_DIR SCENARIO`` (``refresh``, ``lock`` or
``refused``).
"""

from gevent import monkey

monkey.patch_all()

import json  # noqa: E402
import sys  # noqa: E402

import gevent  # noqa: E402
import gevent.event  # noqa: E402

from kimiproxy.accounts import new_holder, open_store  # noqa: E402
from kimiproxy.accounts.directory import AccountDirectory  # noqa: E402
from kimiproxy.errors import AuthenticationFailed, ClientDisconnected  # noqa: E402
from kimiproxy.upstream.keeper import TokenKeeper  # noqa: E402
from kimiproxy.upstream.refresh import ROTATING, Refreshed  # noqa: E402

REFRESH = "Hq3Lx9Vm2Kp7Wn4Tz8Rb1Cj6Df0Gs5Y"
ACCESS = "plain-access-rotated"
ROTATED = "rotated-1"


def main(state_dir: str, scenario: str) -> None:
    store = open_store("", state_dir)
    directory = AccountDirectory(store)
    account_fp = directory.account_of(REFRESH)
    entered = gevent.event.Event()  # the point the interruption lands at was reached
    finished = gevent.event.Event()  # the refresh and its saving are over
    seen: dict = {"refresher_calls": 0}

    def refresher(fp, refresh_token, extend_lock):
        seen["refresher_calls"] += 1
        if scenario == "refresh":
            entered.set()
        gevent.sleep(0.3)  # Kimi thinking; once it answers, the refresh token is rotated
        if scenario == "refused":
            raise AuthenticationFailed("Kimi refused the refresh token")
        return Refreshed(ACCESS, ROTATED, ROTATING)

    acquire, set_tokens = store.acquire_refresh_lock, store.set_tokens

    def slow_acquire(fp, holder, ttl):
        taken = acquire(fp, holder, ttl)
        if scenario == "lock" and seen["refresher_calls"] == 0:
            entered.set()
            gevent.sleep(0.2)  # between taking the lock and the try that releases it
        return taken

    def noted_set_tokens(*args, **kwargs):
        try:
            return set_tokens(*args, **kwargs)
        finally:
            finished.set()

    store.acquire_refresh_lock = slow_acquire
    store.set_tokens = noted_set_tokens
    keeper = TokenKeeper(directory, refresher, margin=180.0, lock_ttl=30.0)

    def request():  # what a request greenlet does: it ends on what it was told
        try:
            seen["waiter"] = f"got {keeper.get(REFRESH)}"
        except BaseException as error:
            seen["waiter"] = type(error).__name__

    waiter = gevent.spawn(request)
    if scenario == "refused":
        waiter.join(5)
    else:
        assert entered.wait(5), "the refresh never started"
        seen["finished_at_interruption"] = finished.is_set()
        # As client_watch does: thrown into the waiting greenlet from a hub callback.
        waiter.kill(ClientDisconnected("the client closed its connection"), timeout=5)
        seen["saved"] = finished.wait(5)
        gevent.sleep(0.05)  # the release that follows the save
        account = store.get_account(account_fp)
        seen["refresh_token"] = account.refresh_token
        seen["access_token"] = account.access_token
        # A later request of the same account uses those tokens, without another refresh.
        seen["next_get"] = keeper.get(REFRESH)
    # Nobody holds the refresh lock any more: another holder takes it at once.
    seen["lock_free"] = acquire(account_fp, new_holder(), 30.0)
    store.close()
    print(json.dumps(seen))


if __name__ == "__main__":
    main(*sys.argv[1:])
