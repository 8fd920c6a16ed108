"""Ownership: handles released by garbage collection, and handles moved into threads by spawn."""

from __future__ import annotations

import gc
import threading
import weakref
from fractions import Fraction
from typing import Any

import pytest
from helpers import WAIT, Worker, blocked_receivers, blocked_senders, wait_until

import mpsc


class Payload:
    """A message whose release can be observed through a weak reference."""


# -- garbage collection releases handles ------------------------------------------------------


@pytest.mark.parametrize("cap", [None, 1, 0])
def test_dropping_last_sender_wakes_blocked_receiver(cap: int | None) -> None:
    tx, rx = mpsc.channel() if cap is None else mpsc.sync_channel(cap)
    worker = Worker(rx.recv_timeout, WAIT)
    wait_until(lambda: blocked_receivers(rx) == 1)
    del tx  # no close(): reference counting releases it, as Rust drops it
    with pytest.raises(mpsc.RecvError):
        worker.join()


@pytest.mark.parametrize("cap", [1, 0])
def test_dropping_last_receiver_wakes_blocked_sender(cap: int) -> None:
    tx, rx = mpsc.sync_channel(cap)
    if cap:
        tx.send("filler")
    worker = Worker(tx.send_timeout, "mine", WAIT)
    wait_until(lambda: blocked_senders(tx) == 1)
    del rx
    with pytest.raises(mpsc.SendError) as info:
        worker.join()
    assert info.value.value == "mine"


def test_buffered_messages_released_when_last_receiver_dropped() -> None:
    tx, rx = mpsc.sync_channel(4)
    payload = Payload()
    ref = weakref.ref(payload)
    tx.send(payload)
    del payload
    assert ref() is not None  # the channel holds it
    del rx
    assert ref() is None  # released at once, while the Sender is alive
    with pytest.raises(mpsc.SendError):
        tx.send(Payload())


def test_handles_in_a_reference_cycle_are_released_by_the_collector() -> None:
    tx, rx = mpsc.channel()

    class Holder:
        def __init__(self) -> None:
            self.me = self
            self.tx = tx.clone()

    # An automatic collection between Holder() and the first assert would release the cycle
    # early (on 3.11 about once in 700 runs): only the explicit one below may run.
    gc.disable()
    try:
        Holder()
        tx.close()
        assert not rx.is_disconnected()  # the cycle still owns a clone
    finally:
        gc.enable()
    gc.collect()
    assert rx.is_disconnected()
    with pytest.raises(mpsc.RecvError):
        rx.recv_timeout(WAIT)


def test_collection_while_the_channel_lock_is_held_does_not_deadlock() -> None:
    """A handle collected while its channel's lock is held (by this very thread) is released
    later by a helper thread instead of deadlocking on the lock."""
    tx, rx = mpsc.channel()
    clone = tx.clone()
    tx.close()
    chan = rx._chan
    with chan.lock:
        del clone  # __del__ runs now, in the thread holding the lock
        assert not chan.tx_gone  # deferred, not lost
    wait_until(lambda: chan.tx_gone)
    with pytest.raises(mpsc.RecvError):
        rx.recv_timeout(WAIT)


def test_a_channel_carrying_its_own_handles() -> None:
    """Dropping buffered messages that are handles of the same channel: no deadlock, and
    the released handles count down the channel too."""
    tx, rx = mpsc.channel()
    tx.send(tx.clone())
    tx.send(rx.clone())
    rx.close()  # not the last receiver: a clone is buffered
    assert not tx.is_disconnected()
    tx2, rx2 = mpsc.channel()
    tx2.send(tx2.clone())
    del rx2  # drops the buffered Sender while releasing the channel
    assert tx2.is_disconnected()


def test_closed_handle_is_not_released_twice_by_gc() -> None:
    tx, rx = mpsc.channel()
    tx2 = tx.clone()
    tx.close()
    del tx
    gc.collect()
    assert not rx.is_disconnected()  # tx2 still counts
    tx2.send(1)
    assert rx.recv() == 1


def test_many_handles_dropped_from_many_threads() -> None:
    tx, rx = mpsc.channel()

    def churn(tx: mpsc.Sender[int]) -> None:
        for i in range(2000):
            clone = tx.clone()
            clone.send(i)
            del clone

    workers = [Worker(churn, tx) for _ in range(4)]
    for worker in workers:
        worker.join()
    assert len(rx) == 8000
    tx.close()
    gc.collect()
    assert len(list(rx)) == 8000
    assert rx.is_disconnected()


# -- spawn moves handles into the thread -----------------------------------------------------


def test_spawn_returns_result_and_moves_handles() -> None:
    tx, rx = mpsc.channel()

    def work(tx: mpsc.Sender[str], *, extra: mpsc.Sender[str]) -> int:
        tx.send("a")
        extra.send("b")
        return 42

    handle = mpsc.spawn(work, tx, extra=tx.clone())
    with pytest.raises(mpsc.ClosedHandleError, match="moved"):
        tx.send("from the caller")
    assert "moved" in repr(tx)
    assert handle.join(WAIT) == 42
    assert handle.is_finished()
    assert sorted(rx) == ["a", "b"]  # iteration ended: the thread closed both handles


def test_spawn_reraises_and_still_closes_handles() -> None:
    tx, rx = mpsc.channel()

    def fail(tx: mpsc.Sender[int]) -> None:
        tx.send(1)
        raise ValueError("boom")

    handle = mpsc.spawn(fail, tx)
    with pytest.raises(ValueError, match="boom"):
        handle.join(WAIT)
    with pytest.raises(ValueError, match="boom"):  # every join reports it
        handle.join(WAIT)
    assert list(rx) == [1]


def test_join_timeout() -> None:
    release = threading.Event()
    handle = mpsc.spawn(release.wait, WAIT)
    with pytest.raises(mpsc.Timeout):
        handle.join(0.01)
    assert not handle.is_finished()
    assert "running" in repr(handle)
    with pytest.raises(mpsc.Timeout):
        handle.join(Fraction(1, 100))  # any real number of seconds, as everywhere else
    with pytest.raises(ValueError):
        handle.join(-(10**400))
    release.set()
    assert handle.join(WAIT) is True
    assert "finished" in repr(handle)
    with pytest.raises(ValueError):
        handle.join(-1)


def test_spawn_leaves_non_handle_arguments_alone() -> None:
    tx, rx = mpsc.channel()
    box: list[Any] = [tx]  # handles nested in containers are not moved
    handle = mpsc.spawn(lambda b: b[0].send(1), box)
    handle.join(WAIT)
    assert rx.recv_timeout(WAIT) == 1
    tx.send(2)  # still the caller's
    assert rx.recv_timeout(WAIT) == 2


def test_spawn_rejects_non_callables_and_closed_handles() -> None:
    with pytest.raises(TypeError):
        mpsc.spawn(42)  # type: ignore[arg-type]
    tx, rx = mpsc.channel()
    tx.close()
    with pytest.raises(mpsc.ClosedHandleError):
        mpsc.spawn(print, tx)
    # a failed spawn moves nothing: the other handle passed along stays the caller's
    other, rx2 = mpsc.channel()
    with pytest.raises(mpsc.ClosedHandleError):
        mpsc.spawn(print, other, tx)
    other.send("still mine")
    assert rx2.recv_timeout(WAIT) == "still mine"


def test_spawn_moves_a_handle_passed_twice_once() -> None:
    tx, rx = mpsc.channel()
    handle = mpsc.spawn(lambda a, b: (a.send(1), b.send(2), a is b)[-1], tx, tx)
    assert handle.join(WAIT) is True
    assert list(rx) == [1, 2]


def test_the_seed_example() -> None:
    tx, rx = mpsc.channel()

    def worker(tx: mpsc.Sender[str]) -> None:
        with tx:
            for word in ["hi", "from", "the", "thread"]:
                tx.send(word)

    mpsc.spawn(worker, tx)
    assert rx.recv_timeout(WAIT) == "hi"
    assert list(rx) == ["from", "the", "thread"]
