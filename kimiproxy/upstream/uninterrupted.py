"""Running a step to its end although the request waiting for it is interrupted.

A token refresh must not stop half way: once Kimi has rotated the refresh token, the new one
must be stored, or the account is logged out for good. Under gevent the step runs in a greenlet
of its own, which goes on when the waiting request is interrupted (a client that left); the
interruption still reaches the request. Without gevent it is a plain call.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar, cast

T = TypeVar("T")


def uninterrupted(fn: Callable[[], T]) -> T:
    """``fn()``, which an exception thrown into the caller cannot cut short: under gevent it
    runs in a greenlet of its own that goes on to the end when the caller stops waiting (the
    interruption propagates to the caller). Without gevent, a plain call."""
    if not gevent_running():
        return fn()
    import gevent

    def run() -> tuple[T | None, BaseException | None]:
        # An outcome, not a raise: the hub would report a greenlet that dies of an error.
        try:
            return fn(), None
        except BaseException as error:
            return None, error

    result, error = gevent.spawn(run).get()
    if error is not None:
        raise error
    return cast(T, result)


def gevent_running() -> bool:
    try:
        from gevent import monkey
    except ImportError:  # pragma: no cover - gevent is a dependency
        return False
    return monkey.is_module_patched("socket")
