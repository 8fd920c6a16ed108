"""Waiting for file descriptors in an asyncio task: the async counterpart of ``_waiting``.

An async method of a process channel runs the same non-blocking attempts as the blocking one;
where the blocking call would sleep in ``poll``, the task awaits :func:`ready` instead, which
watches the same fds with ``loop.add_reader``/``add_writer`` (no thread per wait) and removes
them in a ``finally``, so a cancellation leaves nothing registered.

asyncio allows one reader and one writer callback per fd, and several tasks may wait on one fd
(clones in one process share their fds, and one handle may serve many tasks): so each loop has
one :class:`_Watch` that registers an fd once and wakes every task waiting on it. A wake-up is
one-shot (the callback unregisters the fd and resolves the futures); a woken task tries again
and, if it still cannot complete, waits again. Waking every waiter of an fd is correct (each
one's retry is a non-blocking attempt that either completes or finds nothing) and simple; the
losers of a race only cost a retry.

A wait also ends after ``SLICE`` seconds, as ``_waiting.wait_ready`` does, so a task notices a
handle closed meanwhile (by another task or thread) without a wake-up channel per handle.

Cancellation lands only at the ``await`` of :func:`ready`, where the caller's state records say
exactly what it holds (a credit, an offer out, a hint); the callers in ``_handles`` clean up or,
when the operation had happened after all, return and have the cancellation delivered again
(:func:`redeliver`), as the thread channels do.
"""

from __future__ import annotations

import math
import os
import sys
import threading
import weakref
from collections.abc import Collection, Iterable
from typing import TYPE_CHECKING, Any

from .._fork import in_trio_run
from ._waiting import CONGESTED_WAIT, SLICE, WRITABLE, wait_ready

if TYPE_CHECKING:  # asyncio itself is imported only by programs that use it
    import asyncio


class _Trio:
    """Stands for the event loop in a trio task. trio lets one task at a time wait on an fd
    (``wait_readable`` raises ``BusyResourceError`` for a second), while clones in one process
    share their fds and one handle may serve many tasks: so a trio task's wait polls the fds in
    a worker thread (``trio.to_thread``, abandoned on cancellation; it ends within a slice)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<trio>"


TRIO: Any = _Trio()


def running_loop() -> asyncio.AbstractEventLoop:
    """The asyncio loop running this task (or ``TRIO`` in a trio task); a clear
    ``RuntimeError`` with none."""
    aio = sys.modules.get("asyncio")
    if aio is not None:
        loop: asyncio.AbstractEventLoop | None = aio.events._get_running_loop()
        if loop is not None:
            return loop
    trio = sys.modules.get("trio")
    if trio is not None and in_trio_run(trio):
        return TRIO  # type: ignore[no-any-return]
    raise RuntimeError("mpsc.process's *_async methods need a running asyncio or trio event loop")


def refuse_in_event_loop(suggestion: str) -> None:
    """Before a blocking call sleeps: raise ``RuntimeError`` if this thread runs an event loop
    (the sleep would freeze it), as the thread channels do (``_ops.thread_waiter``)."""
    asyncio = sys.modules.get("asyncio")
    trio = sys.modules.get("trio")
    if (asyncio is not None and asyncio.events._get_running_loop() is not None) or (
        trio is not None and in_trio_run(trio)
    ):
        raise RuntimeError(
            "a blocking mpsc call would freeze the running event loop; "
            f"await the *_async method ({suggestion}) instead"
        )


def _resolve(future: asyncio.Future[bool], result: bool) -> None:
    if not future.done():
        future.set_result(result)


class _Watch:
    """One loop's registered fds: for each, the futures of the tasks waiting on it. Used only
    from the loop's own thread.

    It holds neither its loop nor the futures strongly (a task's own await holds its future):
    a loop closed with tasks still waiting must stay collectable, so that those tasks are
    collected and their coroutines closed, which runs their cleanup (credits given back, offers
    withdrawn, hints taken back).
    """

    __slots__ = ("__weakref__", "readers", "writers")

    def __init__(self) -> None:
        self.readers: dict[int, weakref.WeakSet[asyncio.Future[bool]]] = {}
        self.writers: dict[int, weakref.WeakSet[asyncio.Future[bool]]] = {}

    def add(
        self, loop: asyncio.AbstractEventLoop, fd: int, writable: bool, future: asyncio.Future[bool]
    ) -> None:
        table = self.writers if writable else self.readers
        waiting = table.get(fd)
        if waiting is None:
            # Registered before it is recorded: if add_reader raises, nothing points at it.
            if writable:
                loop.add_writer(fd, self._fire, loop, fd, True)
            else:
                loop.add_reader(fd, self._fire, loop, fd, False)
            waiting = table[fd] = weakref.WeakSet()
        waiting.add(future)

    def discard(
        self, loop: asyncio.AbstractEventLoop, fd: int, writable: bool, future: asyncio.Future[bool]
    ) -> None:
        table = self.writers if writable else self.readers
        waiting = table.get(fd)
        if waiting is None:
            return
        waiting.discard(future)
        if not waiting:  # the last waiter leaves: the fd must not stay registered (it may be
            del table[fd]  # closed next, and its number reused by an unrelated file)
            _unregister(loop, fd, writable)

    def _fire(self, loop: asyncio.AbstractEventLoop, fd: int, writable: bool) -> None:
        table = self.writers if writable else self.readers
        waiting = table.pop(fd, None)
        _unregister(loop, fd, writable)  # one-shot: a task still unable to go on waits again
        if waiting:
            for future in list(waiting):
                _resolve(future, True)


def _unregister(loop: asyncio.AbstractEventLoop, fd: int, writable: bool) -> None:
    # (A closed loop has nothing registered any more: both calls return False then.)
    if writable:
        loop.remove_writer(fd)
    else:
        loop.remove_reader(fd)


_watches: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Watch] = weakref.WeakKeyDictionary()
_watches_lock = threading.Lock()  # loops in several threads look their watch up at once
if hasattr(os, "register_at_fork"):  # (a parent thread may hold it at the fork: never released)
    os.register_at_fork(after_in_child=_watches_lock._at_fork_reinit)  # type: ignore[attr-defined]


def _watch(loop: asyncio.AbstractEventLoop) -> _Watch:
    with _watches_lock:
        watch = _watches.get(loop)
        if watch is None:
            watch = _watches[loop] = _Watch()
        return watch


def watch(
    loop: asyncio.AbstractEventLoop,
    fds: Iterable[tuple[int, int]],
    future: asyncio.Future[bool],
    added: list[tuple[int, bool]],
) -> None:
    """Resolve ``future`` with True once one of ``fds`` (pairs of fd and ``_waiting`` poll
    events: ``READABLE`` or ``WRITABLE``) is ready; a hang-up counts as ready (epoll reports it
    to readers and writers alike). Each registration is recorded in ``added`` as it is made,
    for :func:`unwatch` to undo, whatever exception lands."""
    watching = _watch(loop)
    for fd, events in fds:
        writable = bool(events & WRITABLE)
        watching.add(loop, fd, writable, future)
        added.append((fd, writable))


def unwatch(
    loop: asyncio.AbstractEventLoop, added: list[tuple[int, bool]], future: asyncio.Future[bool]
) -> None:
    """Stop watching what :func:`watch` registered for ``future``."""
    watching = _watch(loop)
    for fd, writable in added:
        watching.discard(loop, fd, writable, future)


async def ready(loop: asyncio.AbstractEventLoop, fds: Collection[tuple[int, int]]) -> bool:
    """Await until one of ``fds`` is ready (see :func:`watch`) or ``SLICE`` seconds went by
    (with no fds, ``CONGESTED_WAIT``: see ``_waiting.wait_ready``); whether an fd woke it."""
    if loop is TRIO:
        return await _ready_in_trio(fds)
    future: asyncio.Future[bool] = loop.create_future()
    added: list[tuple[int, bool]] = []
    timer = None
    try:
        watch(loop, fds, future, added)
        timer = loop.call_later(SLICE if fds else CONGESTED_WAIT, _resolve, future, False)
        return await future
    finally:
        if timer is not None:
            timer.cancel()
        unwatch(loop, added, future)


async def _ready_in_trio(fds: Collection[tuple[int, int]]) -> bool:
    import trio

    global _trio_limiter
    if _trio_limiter is None:
        _trio_limiter = trio.CapacityLimiter(math.inf)
    woken = await trio.to_thread.run_sync(
        wait_ready, list(fds), None, abandon_on_cancel=True, limiter=_trio_limiter
    )
    return bool(woken)


_trio_limiter: Any = None
"""The waits' own limiter, without a bound: a wait holding one of trio's default tokens (40)
stalled every other ``trio.to_thread`` call of the program, and other mpsc waits, once 40
tasks waited (process review 2, finding 02). A thread per waiting task: each ends within a
``SLICE`` of its task's wait ending."""


def is_cancellation(exc: BaseException) -> bool:
    """Whether ``exc`` ends the task rather than interrupts it: a cancellation, or the
    ``GeneratorExit`` of a coroutine closed unfinished (its event loop gone)."""
    if isinstance(exc, GeneratorExit):
        return True
    asyncio = sys.modules.get("asyncio")
    if asyncio is not None and isinstance(exc, asyncio.CancelledError):
        return True
    trio = sys.modules.get("trio")
    return trio is not None and isinstance(exc, trio.Cancelled)


def cancelling() -> int:
    """How many cancellation requests the current task has (0 outside a task); noted when a
    cancellation came after the operation had happened, for :func:`redeliver`. (0 in a trio
    task: trio's cancellation stays until its scope ends, so the next await raises it again.)"""
    import asyncio

    if asyncio.events._get_running_loop() is None:
        return 0
    task = asyncio.current_task()
    return task.cancelling() if task is not None else 0


def redeliver(loop: asyncio.AbstractEventLoop, level: int) -> None:
    """The operation happened before the cancellation reached it, so it returns its result and
    the cancellation is delivered again at the task's next await — unless by then someone
    consumed it (an ``asyncio.timeout`` block that ended normally uncancels its request) or the
    task finished. The same as ``mpsc._waiters.AsyncWaiter.redeliver``: the request is delivered
    again, not repeated, so the task's cancellation count is left as it was."""
    if not level:  # (always so in a trio task: see cancelling)
        return
    import asyncio

    task = asyncio.current_task()
    if task is None:
        return

    def again(task: Any = task) -> None:
        if not task.done() and task.cancelling() >= level:
            task.cancel()
            task.uncancel()

    loop.call_soon(again)
