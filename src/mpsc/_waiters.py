"""Waiters: how one blocked operation sleeps and is woken, and the claim that makes it happen once.

A waiter may be queued on several channels at once (a ``select``). Whoever completes it — a
peer handing over a value, a channel disconnecting, the waiter itself giving up at its
deadline — must first *claim* it, and only one claim ever succeeds. The claim is a
``list.pop()`` on a one-element list: atomic under the GIL and, on free-threaded builds, under
the list's own lock, so it needs no lock of ours and works across channels whose locks differ.

The claimer then calls ``complete(index, value)``, which records the outcome and wakes the
sleeper; the sleeper reads the outcome only after it is woken. ``value`` is ``RETRY`` when the
operation did not happen (its channel disconnected, its handle closed, or a lock-free peer took
the value first): the sleeper re-examines the channel and tries again or reports why not.
"""

from __future__ import annotations

from threading import TIMEOUT_MAX, Lock
from time import monotonic
from typing import Any, Final


class _Retry:
    __slots__ = ()

    def __repr__(self) -> str:
        return "RETRY"


RETRY: Final[Any] = _Retry()
"""Outcome of a wait that did not take effect: look at the channel again."""


class Waiter:
    """One blocked operation (or one ``select`` over several); completed exactly once."""

    __slots__ = ("_token", "index", "value")

    def __init__(self) -> None:
        self._token = [True]
        self.index = -1  # which operation completed; -1 while none has
        self.value: Any = RETRY

    def claim(self) -> bool:
        """Take the right to complete this waiter; True for exactly one caller, ever."""
        try:
            self._token.pop()
        except IndexError:
            return False
        return True

    @property
    def claimed(self) -> bool:
        """Whether someone has claimed it (a hint: it can only change from False to True)."""
        return not self._token

    def complete(self, index: int, value: Any) -> None:
        """Record operation ``index``'s outcome and wake the sleeper; only the claimer calls it."""
        self.index = index
        self.value = value
        self._wake()

    def _wake(self) -> None:
        raise NotImplementedError


class ThreadWaiter(Waiter):
    """A thread parked on a lock of its own, released by whoever completes the waiter."""

    __slots__ = ("_park",)

    def __init__(self) -> None:
        super().__init__()
        self._park = Lock()
        self._park.acquire()

    def _wake(self) -> None:
        self._park.release()

    def sleep(self, deadline: float | None) -> bool:
        """Park until completed (True) or until ``deadline`` passes (False).

        The lock acquire is interruptible, so Ctrl-C reaches a main thread parked here.
        """
        if deadline is None:
            return self._park.acquire()
        remaining = deadline - monotonic()
        if remaining <= 0:
            return self._park.acquire(False)
        if remaining >= TIMEOUT_MAX:
            return self._park.acquire()
        return self._park.acquire(True, remaining)

    def sleep_briefly(self) -> bool:
        """Park for at most a millisecond (used only to wait out a completion in flight)."""
        return self._park.acquire(True, 0.001)
