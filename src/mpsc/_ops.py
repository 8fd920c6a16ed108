"""The one algorithm by which a send, a receive or a select runs to completion.

:func:`operate` is written once, as a generator, and driven two ways: :func:`run` parks a
thread between attempts, :func:`run_async` awaits. Each round it

1. tries the operations that look ready, without waiting (drawn at random among them, so that
   a ready one is chosen uniformly);
2. otherwise queues one waiter on every operation's channel — a channel may complete it the
   moment it is queued there, so queuing stops at the first sign of a claim;
3. yields to its driver to sleep until the waiter is completed or the wake-up time passes
   (the caller's deadline or a timer's next tick);
4. takes every entry not completed out of its queue again, and either returns the completed
   operation's result or, after a ``RETRY`` or a timer's wake-up, starts another round.

A completed waiter's result is final: if the sleep was interrupted (Ctrl-C in a thread,
cancellation of a task) after a peer had already claimed the waiter, the operation took effect
and its result is returned; the interruption is delivered again right after (for asyncio, only
if nobody consumed it meanwhile: see ``AsyncWaiter.redeliver``).
"""

from __future__ import annotations

import random
import sys
import threading
from collections.abc import Callable, Generator, Sequence
from typing import Any, TypeVar

from ._core import NOTHING, Chan, Entry, closed_error
from ._deadlines import expired
from ._errors import ChannelError, Empty, Timeout
from ._waiters import RETRY, AsyncWaiter, ThreadWaiter, TrioWaiter, Waiter

T = TypeVar("T")
W = TypeVar("W", bound=Waiter)

Rounds = Generator[tuple[W, float | None], None, tuple[int, Any]]

Op = tuple[Chan[Any], Any, Any, bool, int]
"""One operation: (channel, handle, value to send, whether it sends, its index in a select)."""


def try_once(ops: Sequence[Op], select: bool) -> tuple[int, Any] | None:
    """Try the operations that look ready, once each, without waiting; the first to complete
    gives ``(index, result)`` (result None for a send), or None if none could.

    Readiness is a lock-free look at each channel (no exception, no lock for one that is not
    ready); the operation to attempt is then drawn uniformly among the ready ones, so that none
    starves. A disconnected channel counts as ready: its attempt raises ``RecvError`` or
    ``SendError`` (with ``.index`` set, for a select).
    """
    ready = []
    for position, (chan, handle, _value, sending, _index) in enumerate(ops):
        if handle._chan is not chan:
            raise closed_error(handle)
        if chan.may_send() if sending else chan.may_recv():
            ready.append(position)
    while ready:
        pick = ready.pop(int(random.random() * len(ready)) if len(ready) > 1 else 0)
        chan, _handle, value, sending, index = ops[pick]
        try:
            if sending:
                if chan.offer(value):
                    return index, None
            else:
                result = chan.poll()
                if result is not NOTHING:
                    return index, result
        except ChannelError as error:
            if select:
                error.index = index
            raise
    return None


def _rotation(n: int) -> Sequence[int]:
    """The positions from a random one on: no operation is always queued first."""
    if n < 2:
        return range(n)
    start = int(random.random() * n)
    return [*range(start, n), *range(start)]


def operate(
    ops: Sequence[Op],
    deadline: float | None,
    new_waiter: Callable[[bool], W],
    *,
    block: bool = True,
    select: bool = False,
    tried: bool = False,
) -> Rounds[W]:
    """Run ``ops`` (one operation, or a select's) to completion; see the module docstring.

    Returns ``(index, result)``. Raises ``Empty`` if ``block`` is false and nothing is ready,
    ``Timeout`` once ``deadline`` passes, and the operation's own ``RecvError``/``SendError``
    (with ``.index`` set, for a select). ``tried`` says the caller has just tried them all.
    """
    n = len(ops)
    entries: list[Entry] = []
    while True:
        if not tried:
            found = try_once(ops, select)
            if found is not None:
                return found
        tried = False
        final = not block or expired(deadline)
        if final and n < 2:  # one lock-free look at one channel is already atomic
            raise Empty() if not block else Timeout(None if select or not n else ops[0][2])
        # A last look at several channels must be atomic too (a value may move from a channel
        # not yet looked at to one already passed): queue on all of them, then give up at once.
        waiter = new_waiter(not final)
        if not entries:  # made once, for the first round that waits, and reused after
            entries = [Entry(*op) for op in ops]
        wake_at = deadline
        for entry in entries:
            entry.waiter = waiter
            due = entry.chan.due()
            if due is not None and (wake_at is None or due < wake_at):
                wake_at = due
        if final:
            wake_at = float("-inf")
        queued: list[Entry] = []
        try:
            for position in _rotation(n):
                entry = entries[position]
                chan = entry.chan
                with chan.lock:
                    if waiter.claimed:
                        break
                    if entry.handle._chan is not chan:
                        # Its handle was closed (or moved) since try_once looked, and that close
                        # woke only what was queued then. Unless another channel has completed
                        # the waiter meanwhile (that result stands), fail as a queued call would.
                        if not waiter.claim():
                            break
                        raise closed_error(entry.handle)
                    queued.append(entry)  # first: an interrupt inside enqueue still dequeues it
                    chan.enqueue_locked(entry)
            yield waiter, wake_at
        finally:
            for entry in queued:
                if entry.index != waiter.index:
                    chan = entry.chan
                    with chan.lock:
                        chan.dequeue_locked(entry)
        if waiter.index >= 0 and waiter.value is not RETRY:
            return waiter.index, waiter.value
        if final:
            raise Empty() if not block else Timeout()


class _Spare(threading.local):
    """Each thread's finished waiter, kept for its next wait (a lock costs to create)."""

    waiter: ThreadWaiter | None = None


_spare = _Spare()


def thread_waiter(parking: bool = True) -> ThreadWaiter:
    """A waiter for this thread; one that may park is refused inside a running event loop."""
    asyncio = sys.modules.get("asyncio")
    trio = sys.modules.get("trio")
    if parking and (
        (asyncio is not None and asyncio.events._get_running_loop() is not None)
        or (trio is not None and trio.lowlevel.in_trio_run())
    ):
        raise RuntimeError(
            "a blocking mpsc call would freeze the running event loop; "
            "await the *_async method (recv_async, send_async, select_async) instead"
        )
    waiter = _spare.waiter
    if waiter is None:
        return ThreadWaiter()
    _spare.waiter = None  # taken: a wait nested inside this one (a signal handler) gets its own
    return waiter


def run(rounds: Rounds[ThreadWaiter]) -> tuple[int, Any]:
    """Drive ``operate`` in this thread, parking between rounds."""
    interrupted = False
    waiter = None
    try:
        waiter, wake_at = next(rounds)
        while True:
            try:
                woken = waiter.sleep(wake_at)
            except BaseException as exc:
                if not _took_effect(waiter) or not isinstance(exc, KeyboardInterrupt):
                    rounds.throw(exc)  # dequeues, then raises exc
                interrupted = True  # Ctrl-C after the hand-off: deliver it once we return
            else:
                if not woken and not waiter.abort():
                    waiter.sleep(None)  # completed just as time ran out: the wake-up is on its way
            waiter, wake_at = rounds.send(None)
    except StopIteration as stop:
        if interrupted:
            import _thread

            _thread.interrupt_main()
        elif waiter is not None:  # it slept and woke normally: its park lock is held again
            waiter.reset()
            _spare.waiter = waiter
        return stop.value  # type: ignore[no-any-return]


async def run_async(rounds: Rounds[AsyncWaiter | TrioWaiter]) -> tuple[int, Any]:
    """Drive ``operate`` in an asyncio or trio task, awaiting between rounds."""
    interrupted: tuple[AsyncWaiter | TrioWaiter, int] | None = None
    try:
        waiter, wake_at = next(rounds)
        while True:
            try:
                woken = await waiter.sleep(wake_at)
            except BaseException as exc:
                if not _took_effect(waiter):
                    rounds.throw(exc)
                interrupted = waiter, waiter.interrupted()  # after the hand-off: the result stands
            else:
                if not woken and not waiter.abort():
                    waiter.await_completion()
            waiter, wake_at = rounds.send(None)
    except StopIteration as stop:
        if interrupted is not None:
            interrupted[0].redeliver(interrupted[1])
        return stop.value  # type: ignore[no-any-return]


def _took_effect(waiter: ThreadWaiter | AsyncWaiter | TrioWaiter) -> bool:
    """After an interrupted sleep: abort the waiter (nothing happened), or else wait for the
    peer that claimed it and say whether the operation took effect."""
    if waiter.abort():
        return False
    waiter.await_completion()
    return waiter.value is not RETRY


def send(chan: Chan[T], handle: Any, value: T, deadline: float | None) -> None:
    """A blocking send of ``value`` on ``chan`` through ``handle``."""
    run(operate(((chan, handle, value, True, 0),), deadline, thread_waiter))


def recv(chan: Chan[T], handle: Any, deadline: float | None) -> T:
    """A blocking receive from ``chan`` through ``handle``."""
    return run(operate(((chan, handle, None, False, 0),), deadline, thread_waiter))[1]  # type: ignore[no-any-return]


async def send_async(chan: Chan[T], handle: Any, value: T, deadline: float | None) -> None:
    """An awaiting send of ``value`` on ``chan`` through ``handle``."""
    await run_async(operate(((chan, handle, value, True, 0),), deadline, new_async_waiter))


async def recv_async(chan: Chan[T], handle: Any, deadline: float | None) -> T:
    """An awaiting receive from ``chan`` through ``handle``."""
    rounds = operate(((chan, handle, None, False, 0),), deadline, new_async_waiter)
    return (await run_async(rounds))[1]  # type: ignore[no-any-return]


def new_async_waiter(parking: bool = True) -> AsyncWaiter | TrioWaiter:
    """A waiter for the current task: on its running asyncio loop, or in its trio run."""
    asyncio = sys.modules.get("asyncio")
    if asyncio is not None:
        loop = asyncio.events._get_running_loop()
        if loop is not None:
            return AsyncWaiter(loop)
    trio = sys.modules.get("trio")
    if trio is not None and trio.lowlevel.in_trio_run():
        return TrioWaiter()
    raise RuntimeError("mpsc's *_async methods need a running asyncio event loop or a trio run")
