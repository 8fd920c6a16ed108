"""The one algorithm by which a send, a receive or a select runs to completion.

A call is a list of :class:`Operation` records (one for a send or a receive, several for a
select). Each round it

1. tries the operations that look ready, without waiting (``try_ops``: drawn at random among
   them, so that a ready one is chosen uniformly);
2. otherwise queues one waiter on every operation's channel (``Wait.join``) — a channel may
   complete it the moment it is queued there, so queuing stops at the first sign of a claim;
3. sleeps until the waiter is completed or the wake-up time passes (the caller's deadline or a
   timer's next tick) — a thread parks (``run``), a task awaits (``run_async``);
4. claims its own waiter (``Waiter.abort``): if that succeeds, nobody completed it and nothing
   happened (a deadline, a timer due, an interrupt); if it fails, a channel completed it and
   its outcome stands. It then leaves every queue it is still in (``Wait.leave``) and returns
   the outcome, or starts another round after ``RETRY`` or a timer's wake-up.

Interrupts (see ``_interrupts``). An exception that cuts the sleep short (Ctrl-C, a signal
handler's exception, a cancellation) goes through step 4 too: the call either did not happen
— the exception propagates and the channels are as if it never ran — or happened, and returns
its result with the exception raised right after (a cancellation is delivered again at the
task's next await). Leaving the queues is restartable, so an exception landing there is held
until it is done.
"""

from __future__ import annotations

import os
import random
import sys
import threading
from collections.abc import Sequence
from typing import Any, NamedTuple, TypeVar

from ._core import NOTHING, Chan, Entry
from ._deadlines import expired
from ._errors import ChannelError, Empty, Timeout
from ._fork import in_trio_run
from ._interrupts import complete, finish, nothing
from ._ownership import closed_error, is_open
from ._waiters import RETRY, WATCH_SLICE, AsyncWaiter, PollWaiter, ThreadWaiter, TrioWaiter, Waiter

T = TypeVar("T")


class Operation(NamedTuple):
    """One operation of a call: receive from ``chan`` (``sending`` false) or send ``value``,
    through ``handle``; ``number`` is its index in a select (0 for a plain send or recv)."""

    chan: Chan[Any]
    handle: Any
    value: Any
    sending: bool
    number: int


def try_ops(ops: Sequence[Operation], select: bool) -> tuple[int, Any] | None:
    """Try the operations that look ready, once each, without waiting; the first to complete
    gives ``(index, result)`` (result None for a send), or None if none could.

    Readiness is a lock-free look at each channel (no exception, no lock for one that is not
    ready); the operation to attempt is then drawn uniformly among the ready ones, so that none
    starves. A disconnected channel counts as ready: its attempt raises ``RecvError`` or
    ``SendError`` (with ``.index`` set, for a select).
    """
    ready = []
    for position, op in enumerate(ops):
        chan = op.chan
        if not is_open(op.handle, chan):
            raise closed_error(op.handle)
        if chan.may_send() if op.sending else chan.may_recv():
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


class Wait:
    """One round of waiting: one waiter, queued on the channel of every operation."""

    __slots__ = ("entries", "queued", "waiter")

    def __init__(self, ops: Sequence[Operation], waiter: Waiter) -> None:
        self.waiter = waiter
        self.entries = [Entry(*op, waiter) for op in ops]
        self.queued: list[Entry] = []

    def join(self) -> None:
        """Queue the waiter on every channel, from a random one on; stop once it is claimed."""
        waiter, entries, queued = self.waiter, self.entries, self.queued
        for position in _rotation(len(entries)):
            entry = entries[position]
            chan = entry.chan
            with chan.lock:
                if waiter.claims:
                    break
                if not is_open(entry.handle, chan):
                    # Its handle was closed (or moved) since try_ops looked, and that close woke
                    # only what was queued then. Unless another channel has completed the waiter
                    # meanwhile (that result stands), fail as a queued call would.
                    if not waiter.abort():
                        break
                    raise closed_error(entry.handle)
                queued += (entry,)  # first: an interrupt inside enqueue still dequeues it
                chan.enqueue_locked(entry)

    def leave(self) -> None:
        """Take the entries out of every queue they are still in. Restartable."""
        queued = self.queued
        while queued:
            entry = queued[-1]
            chan = entry.chan
            with chan.lock:
                chan.dequeue_locked(entry)
            del queued[-1]


def _wake_at(ops: Sequence[Operation], deadline: float | None, final: bool) -> float | None:
    """When to stop sleeping: the deadline, or sooner when a timer among ``ops`` falls due."""
    if final:
        return float("-inf")
    wake_at = deadline
    for op in ops:
        due = op.chan.due()
        if due is not None and (wake_at is None or due < wake_at):
            wake_at = due
    return wake_at


def recorded(waiter: Waiter) -> tuple[int, Any]:
    """The outcome a claimer recorded in ``waiter``, which it claimed: ``(index, value)``, once
    its burst has ended (without the GIL it may still be ending on another core, and a task is
    woken before the burst).

    A function of its own, called inside the caller's ``try``: the spin's back edge is a check
    point, and CPython 3.13 raises what lands there at the ``JUMP_BACKWARD`` of a
    ``while <condition>:`` loop, which the compiler leaves outside every handler of its frame
    (python/cpython#130279) -- the caller's ``except`` would never see it. From here it
    propagates to the call, which the caller's ``try`` covers."""
    while waiter.index < 0:
        pass
    return waiter.index, waiter.value


def _watching(ops: Sequence[Operation]) -> bool:
    """Whether an operation waits on file descriptors (a process channel's, in a select)."""
    return any(op.chan.watches_fds for op in ops)


def watch_slice(ops: Sequence[Operation]) -> float:
    """The longest a waiter watching fds sleeps between looks: ``WATCH_SLICE`` (a process
    channel's handle closed by another thread is noticed that soon), or longer where every
    watching operation says it may (a Redis channel's blocking read ends by itself)."""
    return min(
        (getattr(op.chan, "watch_slice", WATCH_SLICE) for op in ops if op.chan.watches_fds),
        default=WATCH_SLICE,
    )


def _nothing_ready(ops: Sequence[Operation], block: bool, select: bool) -> BaseException:
    return Empty() if not block else Timeout(None if select or not ops else ops[0].value)


def run(
    ops: Sequence[Operation],
    deadline: float | None,
    *,
    block: bool = True,
    select: bool = False,
    tried: bool = False,
) -> tuple[int, Any]:
    """Run ``ops`` (one operation, or a select's) to completion in this thread, parking
    between rounds; see the module docstring.

    Returns ``(index, result)``. Raises ``Empty`` if ``block`` is false and nothing is ready,
    ``Timeout`` once ``deadline`` passes, and the operation's own ``RecvError``/``SendError``
    (with ``.index`` set, for a select). ``tried`` says the caller has just tried them all.
    """
    while True:
        if not tried:
            found = try_ops(ops, select)
            if found is not None:
                return found
        tried = False
        final = not block or expired(deadline)
        if final and len(ops) < 2:  # one lock-free look at one channel is already atomic
            raise _nothing_ready(ops, block, select)
        # A last look at several channels must be atomic too (a value may move from a channel
        # not yet looked at to one already passed): queue on all of them, then give up at once.
        waiter = thread_waiter(not final, _watching(ops))
        if isinstance(waiter, PollWaiter):
            waiter.slice = watch_slice(ops)
        wait = Wait(ops, waiter)
        woken = False
        # Until the outcome is in hand, whatever lands is handled below; the steps from the
        # sleep on have no check point but the sleep itself (and a spin without the GIL).
        try:
            wait.join()
            woken = waiter.sleep(_wake_at(ops, deadline, final))
            claims = waiter.claims
            claims += (waiter,)
            if claims[0] is waiter:  # nobody completed it: a deadline, a timer, the last look
                outcome: tuple[int, Any] = (-1, RETRY)
            else:
                outcome = recorded(waiter)
        except BaseException as exc:
            claims = waiter.claims
            claims += (waiter,)
            if claims[0] is waiter:  # nobody completed it: the call did not happen
                raise complete(Wait.leave, wait, exc)
            try:
                outcome = recorded(waiter)
            except BaseException as landed:  # a second one, as it waited: it takes the place
                exc = landed
                outcome = recorded(waiter)
            if outcome[1] is RETRY:
                raise complete(Wait.leave, wait, exc)
            try:  # it happened: leave the queues, then return with the exception raised after
                return finish(outcome, Wait.leave, wait, exc)
            except BaseException as landed:  # as finish() started
                return finish(outcome, Wait.leave, wait, landed)
        try:
            wait.leave()
        except BaseException as exc:
            if outcome[1] is RETRY:
                raise complete(Wait.leave, wait, exc)
            try:
                return finish(outcome, Wait.leave, wait, exc)
            except BaseException as again:  # as finish() started
                return finish(outcome, Wait.leave, wait, again)
        # Kept for the next wait: a thread's waiter once its park lock is held again, a poller
        # always (a late byte in its pipe only costs one more look). No calls here: a call is a
        # check point, and the outcome is in hand outside every handler.
        if outcome[0] < 0 or woken or waiter.polls:
            waiter.claims = []
            waiter.index = -1
            waiter.value = RETRY
            if waiter.polls:
                _spare.poller = waiter
            else:
                _spare.waiter = waiter
        if outcome[1] is not RETRY:
            return outcome
        if outcome[0] < 0:  # woken by the clock
            if final:
                raise _nothing_ready(ops, block, select)
            if expired(deadline) and len(ops) < 2:
                raise Timeout(ops[0].value if not select else None)
        # Otherwise look again: a channel disconnected, a handle closed, a value went to a
        # lock-free peer, or a timer fell due. (After the last look too: a channel that
        # disconnected during it has an operation that can complete, Go's runtime tests say.)


def running_trio() -> Any:
    """The trio module when called from a trio task, else None. trio's rule is that every
    async operation is a checkpoint: it raises a pending cancellation before the operation,
    and lets other tasks run after one that completed at once (as trio's own channels do)."""
    trio = sys.modules.get("trio")
    if trio is not None and in_trio_run(trio):
        return trio
    return None


async def trio_yield(trio: Any, result: T) -> T:
    """The checkpoint after an operation that completed at once, under trio: it cannot be
    cancelled, and an exception landing there (KeyboardInterrupt) is raised after the return."""
    try:
        await trio.lowlevel.cancel_shielded_checkpoint()
    except BaseException as exc:
        try:
            return finish(result, nothing, None, exc)
        except BaseException as again:  # as finish() started
            return finish(result, nothing, None, again)
    return result


async def run_async(
    ops: Sequence[Operation], deadline: float | None, *, block: bool = True, select: bool = False
) -> tuple[int, Any]:
    """``run`` for an asyncio or trio task, awaiting between rounds."""
    trio = running_trio()
    if trio is not None:
        await trio.lowlevel.checkpoint_if_cancelled()
    while True:
        found = try_ops(ops, select)
        if found is not None:
            if trio is not None:
                return await trio_yield(trio, found)
            return found
        final = not block or expired(deadline)
        if final and len(ops) < 2:
            raise _nothing_ready(ops, block, select)
        waiter = new_async_waiter()
        if isinstance(waiter, AsyncWaiter):
            waiter.slice = watch_slice(ops)
        wait = Wait(ops, waiter)
        try:
            wait.join()
            await waiter.sleep(_wake_at(ops, deadline, final))
            claims = waiter.claims
            claims += (waiter,)
            if claims[0] is waiter:
                outcome: tuple[int, Any] = (-1, RETRY)
            else:
                outcome = recorded(waiter)
        except BaseException as exc:
            claims = waiter.claims
            claims += (waiter,)
            if claims[0] is waiter:  # the call did not happen
                raise complete(Wait.leave, wait, exc)
            try:
                outcome = recorded(waiter)
            except BaseException as landed:  # a second one, as it waited: it takes the place
                exc = landed
                outcome = recorded(waiter)
            if outcome[1] is RETRY:
                raise complete(Wait.leave, wait, exc)
            # It happened: the result stands. A cancellation is delivered again at the task's
            # next await; any other exception is raised right after the return.
            if _is_cancellation(exc):
                level = waiter.interrupted()
                wait.leave()
                waiter.redeliver(level)
                return outcome
            try:
                return finish(outcome, Wait.leave, wait, exc)
            except BaseException as again:  # as finish() started
                return finish(outcome, Wait.leave, wait, again)
        try:
            wait.leave()
        except BaseException as exc:
            if outcome[1] is RETRY:
                raise complete(Wait.leave, wait, exc)
            try:
                return finish(outcome, Wait.leave, wait, exc)
            except BaseException as again:  # as finish() started
                return finish(outcome, Wait.leave, wait, again)
        if outcome[1] is not RETRY:
            return outcome
        if outcome[0] < 0:
            if final:
                raise _nothing_ready(ops, block, select)
            if expired(deadline) and len(ops) < 2:
                raise Timeout(ops[0].value if not select else None)


def _is_cancellation(exc: BaseException) -> bool:
    asyncio = sys.modules.get("asyncio")
    return asyncio is not None and isinstance(exc, asyncio.CancelledError)


class _Spare(threading.local):
    """Each thread's waiter from its last clean wait, kept for the next (a lock costs to create),
    and its waiter for waits that watch fds (a pipe costs more)."""

    waiter: Any = None  # ThreadWaiter | None
    poller: Any = None  # PollWaiter | None


_spare = _Spare()


def _forget_poller_in_child() -> None:
    # The pipe is shared with the parent after a fork: a wake-up meant for one could reach the other.
    _spare.poller = None


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_poller_in_child)


def thread_waiter(parking: bool = True, watching: bool = False) -> ThreadWaiter | PollWaiter:
    """A waiter for this thread (one that also watches fds if ``watching``); one that may park
    is refused inside a running event loop."""
    asyncio = sys.modules.get("asyncio")
    trio = sys.modules.get("trio")
    if parking and (
        (asyncio is not None and asyncio.events._get_running_loop() is not None)
        or (trio is not None and in_trio_run(trio))
    ):
        raise RuntimeError(
            "a blocking mpsc call would freeze the running event loop; "
            "await the *_async method (recv_async, send_async, select_async) instead"
        )
    if watching:
        poller: PollWaiter | None = _spare.poller
        if poller is None:
            return PollWaiter()
        _spare.poller = None  # taken, as below
        poller.watch = []
        return poller
    waiter: ThreadWaiter | None = _spare.waiter
    if waiter is None:
        return ThreadWaiter()
    _spare.waiter = None  # taken: a wait nested inside this one (a signal handler) gets its own
    return waiter


def new_async_waiter() -> AsyncWaiter | TrioWaiter:
    """A waiter for the current task: on its running asyncio loop, or in its trio run."""
    asyncio = sys.modules.get("asyncio")
    if asyncio is not None:
        loop = asyncio.events._get_running_loop()
        if loop is not None:
            return AsyncWaiter(loop)
    trio = sys.modules.get("trio")
    if trio is not None and in_trio_run(trio):
        return TrioWaiter()
    raise RuntimeError("mpsc's *_async methods need a running asyncio event loop or a trio run")


def send(chan: Chan[T], handle: Any, value: T, deadline: float | None, tried: bool = False) -> None:
    """A blocking send of ``value`` on ``chan`` through ``handle``."""
    run((Operation(chan, handle, value, True, 0),), deadline, tried=tried)


def recv(chan: Chan[T], handle: Any, deadline: float | None, tried: bool = False) -> T:
    """A blocking receive from ``chan`` through ``handle``."""
    return run((Operation(chan, handle, None, False, 0),), deadline, tried=tried)[1]  # type: ignore[no-any-return]


async def send_async(chan: Chan[T], handle: Any, value: T, deadline: float | None) -> None:
    """An awaiting send of ``value`` on ``chan`` through ``handle``."""
    await run_async((Operation(chan, handle, value, True, 0),), deadline)


async def recv_async(chan: Chan[T], handle: Any, deadline: float | None) -> T:
    """An awaiting receive from ``chan`` through ``handle``."""
    return (await run_async((Operation(chan, handle, None, False, 0),), deadline))[1]  # type: ignore[no-any-return]
