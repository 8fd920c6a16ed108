"""Waiters: how one blocked operation sleeps and is woken, and the claim that decides who completes it.

A waiter may be queued on several channels at once (a ``select``). Whoever completes it — a
channel handing over a value, a disconnection, the sleeper itself giving up at its deadline or
on an interrupt — first *claims* it, by appending itself to the waiter's ``claims`` list
(``claims += (entry,)``); the first element is the one that counts, whatever comes after. The
append is one atomic list operation with or without the GIL, needs no lock of ours (so it works
across channels whose locks differ), and is not a point where Python raises a signal handler's
exception (see ``_interrupts``), so a claimer always knows whether it won. A channel claims with
the queue entry through which it completes the waiter; the sleeper claims with the waiter.

The winner records the outcome — ``value`` (``RETRY`` when the operation did not happen: the
channel disconnected, the handle closed, or a lock-free peer took the value first, and the
sleeper looks again), then ``index``, the operation's position — and wakes the sleeper, which
reads the outcome only after it is woken.

Four kinds of sleeper:

* a thread parks on a lock of its own; ``unpark`` releases it from inside a burst;
* a thread whose select also waits on process channels (``mpsc.process``) polls their file
  descriptors and a pipe of its own, into which ``unpark`` writes a byte (``PollWaiter``);
* an asyncio task awaits a future of its loop, resolved directly when the waker runs on the
  loop's thread and through ``call_soon_threadsafe`` otherwise;
* a trio task parks in ``wait_task_rescheduled``, whose abort callback is the sleeper's claim.

Waking a task runs Python code (the event loop's), so it cannot be part of a burst: a task is
*alerted* just before the burst that completes it (``alert``), which also tells whether it can
still run at all (a task whose event loop is closed can never take what it would be given).
"""

from __future__ import annotations

import math
import os
import select
from _thread import LockType, allocate_lock, get_ident
from itertools import repeat
from threading import TIMEOUT_MAX
from time import monotonic
from typing import TYPE_CHECKING, Any, Final
from weakref import ReferenceType, ref

if TYPE_CHECKING:  # asyncio itself is imported only by programs that use it
    import asyncio
    from collections.abc import Iterator


class _Retry:
    __slots__ = ()

    def __repr__(self) -> str:
        return "RETRY"


RETRY: Final[Any] = _Retry()
"""Outcome of a wait that did not take effect: look at the channels again."""

# What ``Waiter.alert`` says of a sleeper about to be completed.
GONE: Final = 0
"""It can never run again (a task whose event loop is closed, or that is being cancelled)."""
NOW: Final = 1
"""It will run: it may be handed a value."""
LATER: Final = 2
"""It is alive but its event loop is not running (it may never run again): it must not be
handed a value, only woken to look again when (if) it runs."""


class Waiter:
    """One blocked operation (or one ``select`` over several); completed exactly once."""

    __slots__ = ("claims", "index", "thread", "value")

    unpark: Iterator[object]
    """Stepped once (``for _ in waiter.unpark: break``) inside a burst, wakes a parked thread; an
    empty iterator for tasks, which ``alert`` wakes before the burst."""

    def __init__(self) -> None:
        self.claims: list[object] = []
        self.index = -1  # which operation completed; -1 while none has
        self.value: Any = RETRY
        self.thread = get_ident()

    def abort(self) -> bool:
        """The sleeper gives up (deadline, interrupt, cancellation): True if nobody completed
        the waiter, which then never will be; False if a peer claimed it first."""
        claims = self.claims
        claims += (self,)
        return claims[0] is self

    def alert(self) -> int:
        """Tell the sleeper its outcome is coming, just before the burst that records it: wakes a
        task (a thread is woken inside the burst, by ``unpark``). Says whether it can take what
        it is given: ``NOW``, ``LATER`` or ``GONE``. A task alerted for an outcome that then goes
        elsewhere wakes, finds itself unclaimed, and looks again."""
        return NOW


class ThreadWaiter(Waiter):
    """A thread parked on a lock of its own, released by whoever completes the waiter."""

    __slots__ = ("_park", "unpark")

    polls = False

    def __init__(self) -> None:
        super().__init__()
        self._park = allocate_lock()
        self._park.acquire()
        self.unpark = map(LockType.release, repeat(self._park))

    def reset(self) -> None:
        """Make a waiter whose last wait ended cleanly (its park lock held again) ready for another."""
        self.claims = []
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


WATCH_SLICE: Final = 0.1
"""The longest a sleeper watching file descriptors sleeps between looks: a process channel's
handle closed by another thread meanwhile is noticed that soon (``mpsc.process._waiting.SLICE``)."""

_WAKE: Final = b"w"


class PollWaiter(Waiter):
    """A thread whose wait also watches file descriptors (a select over process channels): it
    sleeps in ``poll`` on them and on a pipe of its own, into which ``unpark`` writes a byte.

    The operations that own the watched fds fill ``watch`` with ``(fd, poll events)`` pairs as
    the waiter is queued on them; their readiness wakes the sleeper, which then claims its own
    waiter and looks again (as at a timer's tick), so an fd never completes anything itself.

    The pipe is kept for the thread's next waits. A byte written late (by a claimer still ending
    its burst on another core as the sleeper moved on) only wakes a later wait once for nothing,
    and the pipe is closed only after the waiter is collected, which is after every claimer has
    let go of it: a claimer holds the waiter while it writes, so the fd is never closed under it
    (``_pipes``).
    """

    __slots__ = ("__weakref__", "_r", "_w", "slice", "unpark", "watch")

    polls = True

    def __init__(self) -> None:
        super().__init__()
        self._r, self._w = _new_pipe(self)
        # A pipe with room never blocks a write, so no EINTR (no check point) inside a burst.
        self.unpark = map(os.write, repeat(self._w), repeat(_WAKE))
        self.watch: list[tuple[int, int]] = []
        self.slice = WATCH_SLICE  # the longest sleep between looks (set per wait: _ops.watch_slice)

    def sleep(self, deadline: float | None) -> bool:
        """Sleep until completed (True), or one of ``watch`` is ready, or ``deadline`` passes,
        or ``WATCH_SLICE`` went by (False). ``poll`` is interruptible, so Ctrl-C reaches it."""
        poller = select.poll()
        poller.register(self._r, select.POLLIN)
        for fd, events in self.watch:
            poller.register(fd, events)
        ready = spin(poller, deadline) if SPINNING else []
        if not ready:
            timeout = self.slice if deadline is None else max(0.0, min(self.slice, deadline - monotonic()))
            ready = poll(poller, math.ceil(timeout * 1000))
        for fd, _events in ready:
            if fd == self._r:
                try:
                    os.read(self._r, 64)
                except BlockingIOError:
                    pass
                return True
        return False


SPIN: Final = 50e-6
"""How long a wait on fds first looks without sleeping. A process woken from ``poll`` on another
CPU runs tens of microseconds after the write that woke it (longer where the CPU had gone idle,
as in a virtual machine): a reply that comes within this time costs no sleep and no wake-up on
either side. Waits longer than this cost it in CPU time once per sleep."""
SPINNING: Final = len(os.sched_getaffinity(0)) > 1 if hasattr(os, "sched_getaffinity") else True
"""Whether waits spin at all: not where this process may run on one CPU only (the peer it waits
for could not run meanwhile)."""


def spin(poller: select.poll, deadline: float | None) -> list[tuple[int, int]]:
    """Look at ``poller``'s fds without sleeping for up to ``SPIN`` seconds (not past
    ``deadline``); what is ready, or nothing. A function of its own: the loop's back edge is a
    check point (see ``_ops.recorded``), and what lands there propagates from the call."""
    end = monotonic() + SPIN
    if deadline is not None and deadline < end:
        end = deadline
    while True:
        ready = poll(poller, 0)
        if ready or monotonic() >= end:
            return ready


def poll(poller: select.poll, timeout_ms: int) -> list[tuple[int, int]]:
    """``poller.poll(timeout_ms)``, raising what a signal handler raised in it as itself.

    Seen on free-threaded 3.13: ``poll`` returns its result with the handler's exception set,
    and CPython raises a ``SystemError`` caused by that exception instead of the exception."""
    try:
        return poller.poll(timeout_ms)
    except SystemError as error:
        cause = error.__cause__
        if cause is None:
            raise
        raise cause from None


_pipes: list[tuple[ReferenceType[PollWaiter], int, int]] = []
"""Every PollWaiter's pipe, with a reference to its owner. A pipe is closed once its owner is
gone, by the next PollWaiter made (no finalizer: one is Python code that runs wherever the
object dies, and an interrupt landing in it would be reported and dropped). A dead owner is
held by no claimer, so nobody can still be writing to its pipe."""
_pipes_lock = allocate_lock()


def _prune() -> list[tuple[ReferenceType[PollWaiter], int, int]]:
    """Take the pipes of waiters that are gone out of ``_pipes`` (its lock held) and return them.
    A function of its own: a comprehension's loop inside the ``with`` could let an exception
    skip the lock's release on 3.13 (see ``_ops.recorded``)."""
    gone = [pipe for pipe in _pipes if pipe[0]() is None]
    if gone:
        _pipes[:] = [pipe for pipe in _pipes if pipe[0]() is not None]
    return gone


def _new_pipe(waiter: PollWaiter) -> tuple[int, int]:
    """A pipe for ``waiter``, after closing those of waiters that are gone."""
    with _pipes_lock:
        gone = _prune()
    for _, r, w in gone:
        os.close(r)
        os.close(w)
    r, w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
    with _pipes_lock:
        _pipes.append((ref(waiter), r, w))
    return r, w


_NO_UNPARK: Final[Iterator[object]] = iter(())


class AsyncWaiter(Waiter):
    """An asyncio task awaiting a future of its own loop."""

    __slots__ = ("_loop", "future", "slice", "watch")

    unpark = _NO_UNPARK

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__()
        self._loop = loop
        self.future: asyncio.Future[bool] = loop.create_future()
        self.watch: list[tuple[int, int]] = []  # as PollWaiter's: fds whose readiness wakes it
        self.slice = WATCH_SLICE

    def alert(self) -> int:
        # A cancelled task is on its way out: it would have to give back what it is handed.
        loop = self._loop
        if self.future.cancelled() or loop.is_closed():
            return GONE
        if get_ident() == self.thread:  # the waker runs on this loop: no cross-thread hop
            _resolve(self.future, True)
            return NOW
        try:
            loop.call_soon_threadsafe(_resolve, self.future, True)
        except RuntimeError:  # closed since the look above
            return GONE
        # A loop that is not running (run_until_complete returned, say) may be closed before
        # it runs its tasks again: its task is woken, not handed a value.
        return NOW if loop.is_running() else LATER

    async def sleep(self, deadline: float | None) -> bool:
        """Await completion (True) or ``deadline`` (False); with fds to ``watch``, also one of
        them ready or ``WATCH_SLICE`` gone by (the loop's ``add_reader``, see ``PollWaiter``).
        Cancellation propagates."""
        timer = None
        remaining = math.inf if deadline is None else deadline - monotonic()
        if remaining <= 0:
            return False
        if self.watch:
            remaining = min(remaining, self.slice)
        if remaining < TIMEOUT_MAX:
            timer = self._loop.call_later(remaining, _resolve, self.future, False)
        watched: list[tuple[int, bool]] = []
        try:
            if self.watch:
                from .process._async import watch

                watch(self._loop, self.watch, self.future, watched)
            return await self.future
        finally:
            if timer is not None:
                timer.cancel()
            if watched:
                from .process._async import unwatch

                unwatch(self._loop, watched, self.future)

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


def _resolve(future: asyncio.Future[bool], result: bool) -> None:
    if not future.done():
        future.set_result(result)


class TrioWaiter(Waiter):
    """A trio task parked with ``trio.lowlevel.wait_task_rescheduled``."""

    __slots__ = ("_parked", "_task", "_token_trio")

    unpark = _NO_UNPARK

    def __init__(self) -> None:
        import trio

        super().__init__()
        self._task = trio.lowlevel.current_task()
        self._token_trio = trio.lowlevel.current_trio_token()
        self._parked = False

    def alert(self) -> int:
        if get_ident() == self.thread:
            self._reschedule()
            return NOW
        try:
            self._token_trio.run_sync_soon(self._reschedule)
        except RuntimeError:  # trio.RunFinishedError: the run is over
            return GONE
        return NOW

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

    def interrupted(self) -> int:
        return 0

    def redeliver(self, level: int) -> None:
        """Nothing to do: trio cancellation is level-triggered, the next checkpoint raises it."""
