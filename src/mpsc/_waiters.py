"""Waiters: how one blocked operation sleeps and is woken, and the claim that makes it happen once.

A waiter may be queued on several channels at once (a ``select``). Whoever completes it — a
peer handing over a value, a channel disconnecting, the waiter itself giving up at its
deadline or on cancellation — must first *claim* it, and only one claim ever succeeds. The
claim is a ``list.pop()`` on a one-element list: atomic under the GIL and, on free-threaded
builds, under the list's own lock, so it needs no lock of ours and works across channels whose
locks differ.

The claimer then calls ``complete(index, value)``, which records the outcome and wakes the
sleeper; the sleeper reads the outcome only after it is woken. ``value`` is ``RETRY`` when the
operation did not happen (its channel disconnected, its handle closed, or a lock-free peer took
the value first): the sleeper looks at the channels again.

Three kinds of sleeper: a thread parks on a lock of its own; an asyncio task awaits a future
of its loop, resolved directly when the waker runs on that loop's thread and through
``call_soon_threadsafe`` otherwise; a trio task parks in ``wait_task_rescheduled``, whose abort
callback is exactly the sleeper's claim, so trio's own cancellation rules hold unchanged.
"""

from __future__ import annotations

from threading import TIMEOUT_MAX, Lock, get_ident
from time import monotonic
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:  # asyncio itself is imported only by programs that use it
    import asyncio


class _Retry:
    __slots__ = ()

    def __repr__(self) -> str:
        return "RETRY"


RETRY: Final[Any] = _Retry()
"""Outcome of a wait that did not take effect: look at the channel again."""


class Waiter:
    """One blocked operation (or one ``select`` over several); completed exactly once."""

    __slots__ = ("_aborted", "_token", "index", "value")

    def __init__(self) -> None:
        self._token = [True]
        self._aborted = False
        self.index = -1  # which operation completed; -1 while none has
        self.value: Any = RETRY

    def claim(self) -> bool:
        """Take the right to complete this waiter; True for exactly one caller, ever."""
        try:
            self._token.pop()
        except IndexError:
            return False
        return True

    def abort(self) -> bool:
        """The sleeper gives up (deadline, interrupt, cancellation): True if nobody completed
        the waiter, which then never will be; False if a peer claimed it first. Idempotent."""
        if not self._aborted:
            self._aborted = self.claim()
        return self._aborted

    @property
    def claimed(self) -> bool:
        """A hint that nobody should try to complete it: claimed, or its sleeper is leaving."""
        return not self._token

    def complete(self, index: int, value: Any) -> None:
        """Record operation ``index``'s outcome and wake the sleeper; only the claimer calls it."""
        self.value = value  # before index: a sleeper that sees index >= 0 reads a set value
        self.index = index
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

    def reset(self) -> None:
        """Make a finished waiter (its park lock held again) ready for another wait."""
        self._token.append(True)
        self._aborted = False
        self.index = -1
        self.value = RETRY

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

    def await_completion(self) -> None:
        """Wait out a completion already claimed by a peer, after an exception cut ``sleep`` short.

        The exception may have struck before or just after the wake-up was consumed, so a
        blocking wait could hang; poll the park briefly until the outcome is recorded.
        """
        while self.index < 0:
            try:
                self._park.acquire(True, 0.001)
            except BaseException:  # a second interrupt while the first is being handled
                continue


class AsyncWaiter(Waiter):
    """An asyncio task awaiting a future of its own loop."""

    __slots__ = ("_loop", "_thread", "future")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__()
        self._loop = loop
        self._thread = get_ident()
        self.future: asyncio.Future[bool] = loop.create_future()

    @property
    def claimed(self) -> bool:
        # A cancelled task is on its way out: peers skip it rather than hand it a value it
        # would then have to return despite the cancellation.
        return not self._token or self.future.cancelled()

    def _wake(self) -> None:
        if get_ident() == self._thread:  # the waker runs on this loop: no cross-thread hop
            _resolve(self.future, True)
        else:
            try:
                self._loop.call_soon_threadsafe(_resolve, self.future, True)
            except RuntimeError:  # the loop is closed: its task will never look again
                pass

    async def sleep(self, deadline: float | None) -> bool:
        """Await completion (True) or ``deadline`` (False). Cancellation propagates."""
        timer = None
        if deadline is not None:
            remaining = deadline - monotonic()
            if remaining <= 0:
                return False
            if remaining < TIMEOUT_MAX:
                timer = self._loop.call_later(remaining, _resolve, self.future, False)
        try:
            return await self.future
        finally:
            if timer is not None:
                timer.cancel()

    def await_completion(self) -> None:
        """Wait out a completion claimed by a peer (in another thread) just as the task was
        cancelled; the peer is inside its critical section, so this is a matter of moments."""
        _spin_until_completed(self)

    def interrupted(self) -> int:
        """Note, when a cancellation came after the operation completed, how many cancellation
        requests the task has then; ``redeliver`` uses it."""
        import asyncio

        task = asyncio.current_task()
        return task.cancelling() if task is not None else 0

    def redeliver(self, level: int) -> None:
        """The operation completed before a cancellation reached it, so it returns its result
        and the cancellation is delivered again at the task's next await — unless by then
        someone consumed it (an ``asyncio.timeout`` block that ended normally uncancels its
        request) or the task finished (its result is the operation's). The request is
        re-delivered, not repeated: the task's cancellation count is left as it was."""
        import asyncio

        task = asyncio.current_task()
        if task is None or not level:
            return

        def again() -> None:
            if not task.done() and task.cancelling() >= level:
                task.cancel()
                task.uncancel()

        self._loop.call_soon(again)


def _spin_until_completed(waiter: Waiter) -> None:
    from time import sleep

    while waiter.index < 0:
        sleep(0)


def _resolve(future: asyncio.Future[bool], result: bool) -> None:
    if not future.done():
        future.set_result(result)


class TrioWaiter(Waiter):
    """A trio task parked with ``trio.lowlevel.wait_task_rescheduled``."""

    __slots__ = ("_parked", "_task", "_thread", "_token_trio")

    def __init__(self) -> None:
        import trio

        super().__init__()
        self._task = trio.lowlevel.current_task()
        self._token_trio = trio.lowlevel.current_trio_token()
        self._thread = get_ident()
        self._parked = False

    def _wake(self) -> None:
        if get_ident() == self._thread:
            self._reschedule()
        else:
            try:
                self._token_trio.run_sync_soon(self._reschedule)
            except RuntimeError:  # trio.RunFinishedError: the run is over
                pass

    def _reschedule(self) -> None:
        # Completed before the task parked (during its own queuing)? sleep() sees it and
        # returns at once; only a parked task may be rescheduled.
        if self._parked:
            import outcome
            import trio

            self._parked = False
            trio.lowlevel.reschedule(self._task, outcome.Value(True))

    async def sleep(self, deadline: float | None) -> bool:
        """Park until completed (True) or ``deadline`` (False). A trio cancellation aborts the
        wait only if nobody completed it first; otherwise the result stands and trio delivers
        the cancellation at the task's next checkpoint."""
        import trio

        def abort(_raise_cancel: object) -> trio.lowlevel.Abort:
            if self.abort():
                self._parked = False
                return trio.lowlevel.Abort.SUCCEEDED
            return trio.lowlevel.Abort.FAILED  # completion in flight: its reschedule is coming

        if self.index >= 0:  # completed while queuing: yield, but a cancellation must not undo it
            await trio.lowlevel.cancel_shielded_checkpoint()
            return True
        if deadline is None:
            self._parked = True
            return bool(await trio.lowlevel.wait_task_rescheduled(abort))
        with trio.move_on_at(trio.current_time() + (deadline - monotonic())):
            self._parked = True
            return bool(await trio.lowlevel.wait_task_rescheduled(abort))
        return False

    def await_completion(self) -> None:
        """Only an exception other than trio's cancellation (which aborts cleanly or not at all)
        can interrupt a wait a peer has claimed; wait out that peer's completion."""
        _spin_until_completed(self)

    def interrupted(self) -> int:
        return 0

    def redeliver(self, level: int) -> None:
        """Nothing to do: trio cancellation is level-triggered, the next checkpoint raises it."""
