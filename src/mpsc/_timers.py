"""Timers: receivers whose values are ``time.monotonic()`` instants, usable wherever a Receiver is.

``after(seconds)`` and ``at(instant)`` deliver one value, the scheduled instant; ``tick(period)``
delivers one per period, dropping ticks a slow reader missed, as crossbeam and Go do; ``never()``
delivers nothing, ever. None of them has a thread: a timer only knows when its next value is
*due* (``Chan.due``), and whoever waits on it — a blocking ``recv`` or a ``select`` — sleeps no
longer than that and then polls. Timers have no senders and never disconnect.

A timer's entry still joins ``recvq`` while someone waits on it, only so that closing the
handle wakes that wait; nothing else ever completes it.
"""

from __future__ import annotations

import math
from time import monotonic
from typing import Any

from ._core import NOTHING, RECEIVERS, Chan, Entry
from ._deadlines import _seconds, checked_deadline
from ._handles import Receiver
from ._interrupts import finish
from ._ownership import new_owner


class _Timer(Chan[float]):
    __slots__ = ()

    def __init__(self, cap: int) -> None:
        super().__init__(cap)
        self.senders = 0

    def offer(self, value: float) -> bool:
        raise TypeError("timers have no Sender")

    def may_recv(self) -> bool:
        due = self.due()
        return due is not None and monotonic() >= due

    def enqueue_locked(self, entry: Entry) -> None:
        self.joined_queue_locked(False).append(entry)

    def settle_locked(self) -> None:
        pass  # nothing but the clock makes a timer ready, and a waiter looks at it when due

    def is_full(self) -> bool:
        return self.length() >= (self.cap or 0)

    def summary(self) -> str:
        due = self.due()
        if due is None:
            return "never fires"
        if due == math.inf:
            return "due beyond the clock"
        wait = due - monotonic()
        return f"due in {wait:.3f}s" if wait > 0 else "due now"


class At(_Timer):
    """``at(instant)``/``after(seconds)``: one value, the instant, once it has come."""

    __slots__ = ("_unfired", "when")

    def __init__(self, when: float) -> None:
        super().__init__(1)
        self.when = when
        self._unfired = [True]  # popped by whoever takes the one value

    def describe(self) -> str:
        return f"at({self.when:.6f})"

    def due(self) -> float | None:
        return self.when if self._unfired else None

    def poll(self) -> float:
        unfired = self._unfired
        if not unfired or monotonic() < self.when:
            return NOTHING  # type: ignore[no-any-return]
        try:
            del unfired[-1]  # (not a check point: nothing can come between it and the return)
        except IndexError:  # another receiver took it
            return NOTHING  # type: ignore[no-any-return]
        return self.when

    def length(self) -> int:
        return 1 if self._unfired and monotonic() >= self.when else 0


class Tick(_Timer):
    """``tick(period)``: a value every ``period`` seconds; at most one is ever pending."""

    __slots__ = ("_next", "period")

    def __init__(self, period: float) -> None:
        super().__init__(1)
        self.period = period
        self._next = monotonic() + period

    def describe(self) -> str:
        return f"tick({self.period})"

    def due(self) -> float | None:
        return self._next

    def poll(self) -> float:
        if monotonic() < self._next:
            return NOTHING  # type: ignore[no-any-return]
        taken = False
        try:
            with self.lock:
                now = monotonic()
                scheduled = self._next
                if now < scheduled:  # another receiver took this tick
                    return NOTHING  # type: ignore[no-any-return]
                # A reader less than a period late keeps the rhythm; a later one has missed
                # ticks, which are dropped: the next comes a full period from now.
                following = scheduled + self.period
                self._next, taken = (following if now < following else now + self.period), True
        except BaseException as exc:
            if not taken:
                raise
            try:  # (leaving the lock) the tick is ours
                return finish(scheduled, Chan.settle, self, exc)
            except BaseException as again:  # as finish() started
                return finish(scheduled, Chan.settle, self, again)
        return scheduled

    def length(self) -> int:
        return 1 if monotonic() >= self._next else 0


class Never(_Timer):
    """``never()``: never ready; handy to switch off an operation of a select."""

    __slots__ = ()

    def __init__(self) -> None:
        super().__init__(0)

    def describe(self) -> str:
        return "never()"

    def poll(self) -> float:
        return NOTHING  # type: ignore[no-any-return]

    def length(self) -> int:
        return 0


_NEVER = Never()
_NEVER.receivers = 0


def _receiver(chan: _Timer) -> Receiver[float]:
    return Receiver(chan)


def after(seconds: float) -> Receiver[float]:
    """A Receiver that delivers one value, ``seconds`` from now: the ``time.monotonic()``
    instant it was scheduled for.

    Args:
        seconds: How long from now, ``>= 0``; a delay beyond the clock never fires.

    Returns:
        A timer Receiver, usable wherever a Receiver is (``recv``, iteration, ``select``).

    Raises:
        TypeError: ``seconds`` is not a number.
        ValueError: ``seconds`` is negative or NaN.

    Examples:
        >>> import mpsc, time
        >>> fired = mpsc.after(0.01).recv()
        >>> fired <= time.monotonic()
        True
    """
    delay = _seconds(seconds, "seconds")
    if delay < 0:
        raise ValueError(f"seconds must be >= 0, got {seconds!r}")
    return _receiver(At(monotonic() + delay))


def at(instant: float) -> Receiver[float]:
    """A Receiver that delivers one value at the ``time.monotonic()`` instant ``instant`` (at
    once if it has passed): the instant itself.

    Args:
        instant: A ``time.monotonic()`` instant; ``math.inf`` never fires.

    Returns:
        A timer Receiver.

    Raises:
        TypeError: ``instant`` is not a number.
        ValueError: ``instant`` is NaN.
    """
    when = checked_deadline(instant)
    return _receiver(At(math.inf if when is None else when))


def tick(period: float) -> Receiver[float]:
    """A Receiver that delivers the scheduled ``time.monotonic()`` instant every ``period``
    seconds. It holds at most one pending value: ticks a slow reader missed are dropped, and the
    next one comes a full period after the late read.

    Args:
        period: Seconds between ticks, ``>= 0``.

    Returns:
        A timer Receiver that never disconnects.

    Raises:
        TypeError: ``period`` is not a number.
        ValueError: ``period`` is negative or NaN.
    """
    seconds = _seconds(period, "period")
    if seconds < 0:
        raise ValueError(f"period must be >= 0, got {period!r}")
    return _receiver(Tick(seconds))


def never() -> Receiver[Any]:
    """A Receiver that never delivers anything and never disconnects (every ``never()`` is
    the same channel).

    Returns:
        A timer Receiver; a select operation on it is switched off.
    """
    return new_owner(Receiver, _NEVER, RECEIVERS)
