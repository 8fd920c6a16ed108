"""Race windows between the lock-free fast paths, close (or clone) and a blocked operation,
forced white-box.

Each test swaps a channel's lock or wait queue (or the reaper's thread factory) for an
instrumented object that runs the racing step at exactly the moment the window is open, so the
interleaving that a stress run hits once in a million is replayed every time. Each is the regression test of a
lost wake-up or a resurrected handle found while reviewing the lock-free fast paths against
the locked operations:

* a receiver that queues after the last sender left, while a value is still buffered, and loses
  that value to a lock-free receiver before the hand-over, sleeps for ever (found by CI on the
  free-threaded build);
* a blocking call whose handle is closed between its lock-free look (``try_once``) and its
  queuing sleeps on, through the closed handle, until something else happens to wake it — for
  ever after the last receiver left, or on a timer that never fires;
* ``clone()`` racing ``close()`` of the same handle brings a disconnected side back to life, so
  a receiver waits on a channel every sender sees as disconnected;
* a handle collected while the reaper thread is being started deadlocks the collecting thread.

Every blocking call runs in a ``Worker`` joined with a bound, and is released in a ``finally``.
"""

from __future__ import annotations

import asyncio
import gc
import threading
from collections import deque
from collections.abc import Callable
from typing import Any

import pytest
from helpers import WAIT, Worker, make, use_buffer, wait_until

import mpsc
from mpsc import _ownership

# Every test here runs with each try pass of select: the C one and the pure one (conftest).
pytestmark = pytest.mark.usefixtures("select_pass")


class _LockThatRunsFirst:
    """A channel lock whose first acquisition runs ``before_first`` just before it (which may
    itself take the lock): the racing step lands right after the acquirer's lock-free look."""

    def __init__(self, lock: Any, before_first: Callable[[], object]) -> None:
        self._lock = lock
        self._before_first: Callable[[], object] | None = before_first

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        before, self._before_first = self._before_first, None
        if before is not None:
            before()
        return bool(self._lock.acquire(blocking, timeout))

    def release(self) -> None:
        self._lock.release()

    def locked(self) -> bool:
        return bool(self._lock.locked())

    def __enter__(self) -> bool:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


def _close_as_first_lock(handle: Any) -> Any:
    """Make ``handle`` close at the first acquisition of its channel's lock; return the channel."""
    chan = handle._chan
    chan.lock = _LockThatRunsFirst(chan.lock, handle.close)
    return chan


def _wake_everyone(chan: Any) -> None:
    """Wake whatever still waits on ``chan`` (test clean-up for a wait nothing else ends)."""
    with chan.lock:
        chan.wake_all_locked(chan.recvq)
        chan.wake_all_locked(chan.sendq)


# -- a receiver queued as the last value is taken, after the last sender left ----------------


class _QueueWhereAnotherReceiverStealsTheValue(deque[Any]):
    """A wait queue that, as a receiver joins it, lets a lock-free receiver take the buffered
    value (white-box: the moment between queuing and the hand-over)."""

    def __init__(self, rx: mpsc.Receiver[Any]) -> None:
        super().__init__()
        self.rx = rx
        self.stolen: list[Any] = []

    def append(self, entry: Any) -> None:
        super().append(entry)
        self.stolen.append(self.rx.try_recv())


@pytest.mark.parametrize("cap", [None, 16, 1])
def test_receiver_queued_as_the_last_value_is_taken_after_the_last_sender_left(
    cap: int | None,
) -> None:
    """Regression (found by CI on the free-threaded build): a receiver that queues after the
    last sender left, while one value is still buffered, and loses that value to a lock-free
    receiver must still wake and see the disconnection instead of sleeping for ever."""
    tx, rx = make(cap)
    thief = rx.clone()
    chan = tx._chan  # type: ignore[attr-defined]
    chan.recvq = _QueueWhereAnotherReceiverStealsTheValue(thief)

    def send_then_leave() -> None:
        tx.send_timeout("last", WAIT)
        tx.close()

    chan.lock = _LockThatRunsFirst(chan.lock, send_then_leave)
    receiver = Worker(rx.recv)  # no timeout of its own: only a wake-up can end it
    try:
        with pytest.raises(mpsc.RecvError):
            receiver.join(WAIT)
    finally:
        rx.close()  # frees a receiver that was never woken (ClosedHandleError)
    assert chan.recvq.stolen == ["last"]
    assert chan.tx_gone and not chan.recvq


# -- a blocking call whose handle is closed as it queues ------------------------------------------


@pytest.mark.parametrize("cap", [None, 1, 0])
@pytest.mark.parametrize("last", [False, True], ids=["clone-left", "last-receiver"])
def test_recv_through_a_handle_closed_as_it_queues(cap: int | None, last: bool) -> None:
    """A recv found nothing, then its own handle was closed (another thread) just before it
    queued: it must raise ClosedHandleError, as a recv already queued does. Before the fix it
    slept on — for ever once the last receiver was gone (every send fails, nobody wakes it)."""
    tx, rx = make(cap)
    other = None if last else rx.clone()
    chan = _close_as_first_lock(rx)
    receiver = Worker(rx.recv)  # no timeout of its own: only a wake-up can end it
    try:
        with pytest.raises(mpsc.ClosedHandleError):
            receiver.join(WAIT)
        assert not chan.recvq
        assert chan.rx_gone is last
    finally:
        tx.close()  # the last sender: wakes a receiver left queued
        receiver.thread.join(WAIT)
        if other is not None:
            other.close()


@pytest.mark.parametrize("cap", [1, 0])
@pytest.mark.parametrize("last", [False, True], ids=["clone-left", "last-sender"])
def test_send_through_a_handle_closed_as_it_queues(cap: int, last: bool) -> None:
    """A send that found no room, then saw its own handle closed just before it queued, must
    raise ClosedHandleError and leave its value unsent. Before the fix it slept until a receiver
    made room (or, at capacity 0, came) and then delivered the value through the closed handle —
    after the last sender had left and receivers may already have seen RecvError."""
    tx, rx = make(cap)
    other = None if last else tx.clone()
    if cap:
        tx.send("fill")
    chan = _close_as_first_lock(tx)
    sender = Worker(tx.send, "late")
    try:
        with pytest.raises(mpsc.ClosedHandleError):
            sender.join(WAIT)
        assert not chan.sendq
        assert list(chan.buf) == ["fill"] * cap
        assert chan.tx_gone is last
    finally:
        rx.close()  # the last receiver: wakes a sender left queued
        sender.thread.join(WAIT)
        if other is not None:
            other.close()


def test_timer_recv_through_a_handle_closed_as_it_queues() -> None:
    """The same window on a timer (its own ``enqueue_locked``): before the fix the recv slept
    until the timer fired — here in an hour; on ``never()``, for ever."""
    rx = mpsc.after(3600)
    chan = _close_as_first_lock(rx)
    receiver = Worker(rx.recv)
    try:
        with pytest.raises(mpsc.ClosedHandleError):
            receiver.join(WAIT)
        assert not chan.recvq
    finally:
        _wake_everyone(chan)
        receiver.thread.join(WAIT)


def test_select_through_a_handle_closed_as_it_queues() -> None:
    """A select whose operation's handle is closed just before the select queues on that
    channel (on any of its rounds of queuing, first or not) must raise ClosedHandleError, not
    sleep on the other channels."""
    tx1, rx1 = mpsc.channel()
    tx2, rx2 = mpsc.sync_channel(0)
    chan2 = _close_as_first_lock(rx2)
    selecting = Worker(mpsc.select, rx1, rx2)
    try:
        with pytest.raises(mpsc.ClosedHandleError):
            selecting.join(WAIT)
        assert not rx1._chan.recvq  # type: ignore[attr-defined]
        assert not chan2.recvq
    finally:
        tx1.close()
        selecting.thread.join(WAIT)
        tx2.close()
        rx1.close()


@pytest.mark.parametrize("cap", [None, 1])
def test_recv_async_through_a_handle_closed_as_it_queues(cap: int | None) -> None:
    """The same window for an asyncio task: its recv_async must raise ClosedHandleError instead
    of awaiting for ever."""
    tx, rx = make(cap)
    other = rx.clone()
    chan = _close_as_first_lock(rx)

    async def receive() -> Any:
        return await rx.recv_async()

    receiver = Worker(asyncio.run, receive())
    try:
        with pytest.raises(mpsc.ClosedHandleError):
            receiver.join(WAIT)
        assert not chan.recvq
    finally:
        tx.close()  # wakes a task left queued (through its loop)
        receiver.thread.join(WAIT)
        other.close()


# -- clone racing close of the same handle ---------------------------------------------------------


@pytest.mark.parametrize("side", ["sender", "receiver"])
def test_clone_racing_close_of_the_same_handle_does_not_revive_the_side(side: str) -> None:
    """``clone()`` checks the handle is open, then counts one more owner under the lock; a close
    of that same handle (the last of its side) in between disconnected the channel. Before the
    fix the clone still succeeded: a live Receiver on a channel whose senders all get SendError
    (its recv sleeps until every sender is gone), or a live Sender whose values arrive after
    receivers were told RecvError. The clone must raise ClosedHandleError instead."""
    tx, rx = mpsc.channel()
    handle: Any = tx if side == "sender" else rx
    chan = _close_as_first_lock(handle)
    revived: list[Any] = []
    try:
        with pytest.raises(mpsc.ClosedHandleError):
            revived.append(handle.clone())
        assert (chan.senders, chan.receivers) == ((0, 1) if side == "sender" else (1, 0))
    finally:
        for clone in revived:
            clone.close()
        tx.close()
        rx.close()


# -- a handle collected while the reaper thread is being started -----------------------------------


def test_handle_collected_while_the_reaper_starts_does_not_deadlock(monkeypatch: pytest.MonkeyPatch) -> None:
    """``release_later`` starts the reaper thread under the reaper's own (non-reentrant) lock,
    and making a Thread allocates, so a collection can run there; if it collects a handle whose
    channel lock is taken, ``release_later`` runs again in the same thread and waits for ever
    on the lock that thread holds (with whatever channel lock it held, too). White-box: a
    fresh reaper whose Thread factory drops such a handle, as a collection there would."""
    reaper = _ownership._Reaper()
    monkeypatch.setattr(_ownership, "_reaper", reaper)
    tx1, rx1 = mpsc.channel()
    tx2, rx2 = mpsc.channel()
    chan1, chan2 = tx1._chan, tx2._chan  # type: ignore[attr-defined]
    doomed: list[Any] = []  # what a collection inside Thread() would release

    class ThreadMadeDuringACollection(threading.Thread):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            while doomed:
                doomed.pop()  # the last reference: __del__ runs here, chan2's lock is taken
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(_ownership, "Thread", ThreadMadeDuringACollection)

    def collect_with_locks_held() -> None:
        # Clones made (and dropped) in this thread: on the free-threaded build an object
        # owned by another thread may be finalized later, in its owner.
        first = tx1.clone()
        doomed.append(tx2.clone())
        with chan1.lock, chan2.lock:
            del first  # its lock is taken: released later, by the reaper, which starts now

    gc.disable()  # no real collection meddling with the forced one
    collector = Worker(collect_with_locks_held)
    try:
        collector.join(WAIT)
    finally:
        gc.enable()
        if collector.thread.is_alive() and reaper._lock.locked():
            reaper._lock.release()  # frees the deadlocked thread (its own release then fails)
        collector.thread.join(WAIT)
    _wait_for_counts(chan1, 1)
    _wait_for_counts(chan2, 1)
    for handle in (tx1, rx1, tx2, rx2):
        handle.close()


def _wait_for_counts(chan: Any, senders: int) -> None:
    wait_until(lambda: chan.senders == senders)


# -- a send racing the close of its own handle, after a receiver saw the end ------------------


class _LateAppend(deque[Any]):
    """A buffer whose first append runs ``before`` first: the send has read its handle's
    channel and is about to append when another thread closes the handle (white-box)."""

    def __init__(self, before: Callable[[], object]) -> None:
        super().__init__()
        self.before: Callable[[], object] | None = before

    def append(self, value: Any) -> None:
        before, self.before = self.before, None
        if before is not None:
            before()
        super().append(value)


@pytest.mark.parametrize("cap", [None, 2])
@pytest.mark.parametrize("seen", [True, False], ids=["end seen", "end not seen yet"])
def test_a_send_racing_the_close_of_its_own_handle(cap: int | None, seen: bool) -> None:
    """Rust's rule: disconnection is final. The send read its handle's channel; its handle, the
    last sender, is closed before its value lands. If a receiver saw RecvError meanwhile, the
    value is taken back out and the send raises ClosedHandleError (before the fix it stayed, and
    a later receive returned it); if not, the send stands and the value is received."""
    tx, rx = make(cap)
    chan = rx._chan
    saw: list[type[BaseException]] = []

    def close_and_look() -> None:
        Worker(tx.close).join()  # another thread closes the very handle that is sending
        if seen:
            with pytest.raises(mpsc.RecvError):
                rx.recv_timeout(0)
            saw.append(mpsc.RecvError)

    late = _LateAppend(close_and_look)
    use_buffer(chan, late)
    if seen:
        with pytest.raises(mpsc.ClosedHandleError):
            tx.send("late")
        with pytest.raises(mpsc.RecvError):
            rx.recv_timeout(0)  # still the end
        assert len(rx) == 0
        if cap:
            assert len(chan.slots) == cap  # its permit came back
    else:
        tx.send("late")
        assert rx.recv_timeout(0) == "late"
        with pytest.raises(mpsc.RecvError):
            rx.recv_timeout(0)
    assert saw == ([mpsc.RecvError] if seen else [])


# -- spawn moving a handle another thread is blocked sending through ---------------------------


def test_a_send_blocked_through_a_handle_that_spawn_moves_fails_as_if_it_were_closed() -> None:
    """Found by review: the move did not wake the blocked send; once the spawned thread dropped
    the moved handle (the last Sender) the parked send could still be admitted after a
    receiver had seen RecvError: it returned normally, its value never received."""
    tx, rx = mpsc.bounded(1)
    tx.send("A")
    blocked = Worker(tx.send_timeout, "B", WAIT)
    wait_until(lambda: bool(rx._chan.sendq))  # type: ignore[attr-defined]
    mpsc.spawn(lambda tx: None, tx).join(WAIT)
    with pytest.raises(mpsc.ClosedHandleError, match="moved"):
        blocked.join()
    assert rx.recv_timeout(WAIT) == "A"
    with pytest.raises(mpsc.RecvError):
        rx.recv_timeout(WAIT)
