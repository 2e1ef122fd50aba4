"""Running a few calls concurrently in greenlets: results in order, the first failure cancels
the rest.

Under the gevent worker the process is monkey-patched, so downloads and uploads overlap; without
patching (unit tests, the Flask test client) the greenlets simply run one after the other. A call
that fails does not raise inside its greenlet (gevent would print it as an unhandled error): its
exception is kept and re-raised in the caller once the other greenlets are killed. Results that
finished before the failure are handed to ``discard`` so nothing they hold leaks.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

import gevent
from gevent.lock import BoundedSemaphore

T = TypeVar("T")
DEFAULT_LIMIT = 4


def gather(
    calls: Sequence[Callable[[], T]],
    *,
    limit: int = DEFAULT_LIMIT,
    discard: Callable[[T], None] | None = None,
) -> list[T]:
    """Run every call (at most ``limit`` at once) and return their results in the calls' order.

    On the first failure the remaining greenlets are killed (a call must release what it holds
    when ``GreenletExit`` interrupts it), finished results go to ``discard``, and the failure is
    raised. The same happens if the caller itself is interrupted."""
    if not calls:
        return []
    slots = BoundedSemaphore(max(1, limit))
    outcomes: list[tuple[bool, object] | None] = [None] * len(calls)

    def run(index: int) -> None:
        with slots:
            try:
                outcomes[index] = (True, calls[index]())
            except Exception as exc:  # kept and re-raised by the caller
                outcomes[index] = (False, exc)

    greenlets = [gevent.spawn(run, index) for index in range(len(calls))]
    positions = {greenlet: index for index, greenlet in enumerate(greenlets)}
    try:
        for greenlet in gevent.iwait(greenlets):
            outcome = outcomes[positions[greenlet]]
            if outcome is not None and not outcome[0]:
                raise outcome[1]
            if outcome is None:  # interrupted by something other than its own call
                raise RuntimeError("a concurrent call was interrupted") from greenlet.exception
    except BaseException:
        gevent.killall(greenlets, block=True)
        if discard is not None:
            for outcome in outcomes:
                if outcome is not None and outcome[0]:
                    _quietly(discard, outcome[1])
        raise
    return [outcome[1] for outcome in outcomes]  # type: ignore[index]


def _quietly(discard: Callable[[T], None], value: T) -> None:
    try:
        discard(value)
    except Exception:  # releasing a leftover must not hide the failure being reported
        pass
