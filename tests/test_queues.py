"""The wait queues: made only when someone waits, and left in O(1) (``Chan.dequeue_locked``);
and the other deques a channel needs only once it is used: its buffer and its permits.

An operation that stops waiting without being completed (a timeout, a cancellation, a select
completed by another channel) leaves each queue it is in. At either end of a queue it is taken
out at once; in the middle its entry stays, given the waiter ``LEFT`` so that everyone skips
it, until it reaches the head or the queue is compacted. These tests check what that must not
break: nobody is handed a value through an entry it left (even when its thread waits again),
values go to the live waiters in the order they came, and a queue does not grow without bound.
"""

from __future__ import annotations

import asyncio
import gc
import threading
import tracemalloc
from typing import Any

import pytest
from helpers import WAIT, Worker, wait_until

import mpsc
from mpsc import _core


def test_a_channel_nobody_waited_on_has_no_wait_queues() -> None:
    for tx, rx in [mpsc.channel(), mpsc.bounded(3), mpsc.bounded(0)]:
        chan = rx._chan
        if chan.cap != 0:
            tx.send(1)
            assert rx.recv() == 1
        assert chan.recvq is _core.NO_QUEUE and chan.sendq is _core.NO_QUEUE
    timer = mpsc.after(60)
    assert timer._chan.recvq is _core.NO_QUEUE


def test_a_queue_is_made_when_the_first_operation_waits_and_kept() -> None:
    tx, rx = mpsc.bounded(1)
    chan = rx._chan
    with pytest.raises(mpsc.Timeout):
        rx.recv_timeout(0.001)
    assert chan.recvq is not _core.NO_QUEUE and not chan.recvq
    assert chan.sendq is _core.NO_QUEUE
    tx.send(1)
    with pytest.raises(mpsc.Timeout):
        tx.send_timeout(2, 0.001)
    assert chan.sendq is not _core.NO_QUEUE and not chan.sendq


def idle_bytes(make: Any, n: int = 2000) -> float:
    keep = []
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for _ in range(n):
            keep.append(make())
        return (tracemalloc.get_traced_memory()[0] - before) / n
    finally:
        tracemalloc.stop()


def test_an_idle_channel_costs_less_than_one_deque() -> None:
    """Before its deques were made lazily an idle channel held three (2,584 B), a bounded one
    four (the first thousand permits made at once)."""
    from collections import deque

    one_deque = idle_bytes(deque)
    for make in (mpsc.channel, lambda: mpsc.bounded(64), lambda: mpsc.bounded(0)):
        assert idle_bytes(make) < one_deque


def test_the_first_send_gives_a_channel_its_own_buffer_and_permits() -> None:
    for cap in (None, 1, 64, 5000):
        tx, rx = mpsc.channel() if cap is None else mpsc.bounded(cap)
        chan = rx._chan
        assert chan.buf is _core.NO_DEQUE
        assert chan.slots is None if cap is None else chan.slots is _core.NO_DEQUE
        with pytest.raises(mpsc.Empty):
            rx.try_recv()
        assert chan.buf is _core.NO_DEQUE  # a receive makes nothing
        tx.send(1)
        assert chan.buf is not _core.NO_DEQUE and list(chan.buf) == [1]
        if cap is not None:
            assert chan.slots is not _core.NO_DEQUE
            assert len(chan.slots) + chan._reserve == cap - 1
        assert rx.recv() == 1
    tx, rx = mpsc.bounded(0)
    worker = Worker(rx.recv_timeout, WAIT)
    tx.send_timeout(7, WAIT)
    assert worker.join() == 7
    assert rx._chan.buf is _core.NO_DEQUE and rx._chan.slots is _core.NO_DEQUE  # never needed


@pytest.mark.parametrize("cap", [1, 2, 3])
def test_first_sends_racing_on_a_fresh_bounded_channel_fill_it_exactly(
    cap: int, fast_switching: None
) -> None:
    """Four threads try_send once each on a fresh bounded(cap): exactly ``cap`` succeed. A
    sender that looked at the permits before another made the channel's own deque of them must
    take one from there, not report Full while there is room (nor take one too many)."""
    senders, rounds = 4, 400
    barrier = threading.Barrier(senders + 1, timeout=WAIT)
    current: list[mpsc.Sender[int]] = []
    outcomes: list[str] = []

    def sender(me: int) -> None:
        for _ in range(rounds):
            barrier.wait()
            try:
                current[0].try_send(me)
                outcomes.append("sent")
            except mpsc.Full:
                outcomes.append("full")
            barrier.wait()

    workers = [Worker(sender, me) for me in range(senders)]
    try:
        for _ in range(rounds):
            tx, rx = mpsc.bounded(cap)
            current[:] = [tx]
            outcomes.clear()
            barrier.wait()  # they send
            barrier.wait()  # they are done
            assert sorted(outcomes) == ["full"] * (senders - cap) + ["sent"] * cap
            assert len(list(rx.try_iter())) == cap
    except BaseException:
        barrier.abort()  # the senders stop at once
        raise
    for worker in workers:
        worker.join()


def test_nothing_is_ever_added_to_the_shared_empty_deque() -> None:
    """Checked after every test too (conftest): it stands for every channel's unmade buffer and
    permits, so a value or a permit added there would appear in every one of them."""
    tx, rx = mpsc.bounded(1)
    tx.send(1)
    assert rx.recv() == 1
    assert not _core.NO_DEQUE and tx._chan.slots is not _core.NO_DEQUE


async def _parked(rx: mpsc.Receiver[Any], n: int) -> list[asyncio.Task[Any]]:
    tasks = [asyncio.ensure_future(rx.recv_async()) for _ in range(n)]
    while len(rx._chan.recvq) < n:
        await asyncio.sleep(0)
    return tasks


def test_tasks_leaving_from_the_middle_are_skipped_and_the_rest_served_in_order() -> None:
    async def main() -> None:
        tx, rx = mpsc.channel()
        chan = rx._chan
        tasks = await _parked(rx, 10)
        for i in (3, 5, 6):
            tasks[i].cancel()
        await asyncio.sleep(0)
        assert len(chan.recvq) == 10  # left in place, skipped
        assert sum(entry.waiter is _core.LEFT for entry in chan.recvq) == 3
        for value in range(7):
            tx.send(value)
        staying = [task for i, task in enumerate(tasks) if i not in (3, 5, 6)]
        got = await asyncio.wait_for(asyncio.gather(*staying), WAIT)
        assert got == list(range(7))  # FIFO among the live ones
        assert not chan.recvq and len(rx) == 0

    asyncio.run(main())


def test_tasks_cancelled_in_reverse_order_leave_from_the_tail() -> None:
    async def main() -> None:
        tx, rx = mpsc.channel()
        tasks = await _parked(rx, 500)
        for task in reversed(tasks):
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        assert not rx._chan.recvq and rx._chan.stale == 0
        tx.send("still works")
        assert await rx.recv_async() == "still works"

    asyncio.run(main())


def test_a_queue_is_compacted_once_half_of_it_was_left() -> None:
    async def main() -> None:
        tx, rx = mpsc.channel()
        chan = rx._chan
        n = 4 * _core._COMPACT_AT
        tasks = await _parked(rx, n)
        middle = tasks[1:-1]
        for task in middle[: n // 2]:
            task.cancel()
            await asyncio.sleep(0)
        # Compacted at least once: fewer entries than were queued, none of them left.
        assert len(chan.recvq) < n
        assert chan.stale < _core._COMPACT_AT or 2 * chan.stale < len(chan.recvq)
        live = [t for t in tasks if not t.cancelled()]
        for value in range(len(live)):
            tx.send(value)
        assert await asyncio.wait_for(asyncio.gather(*live), WAIT) == list(range(len(live)))
        assert not chan.recvq

    asyncio.run(main())


def test_repeated_timeouts_in_the_middle_of_a_queue_do_not_grow_it() -> None:
    """A receiver timing out over and over between two that stay parked: its entries are left
    in the middle each time; compaction keeps the queue short."""
    tx, rx = mpsc.channel()
    chan = rx._chan
    first = Worker(lambda: rx.recv_timeout(WAIT))
    wait_until(lambda: len(chan.recvq) == 1)

    def time_out_again_and_again() -> None:
        for _ in range(300):
            with pytest.raises(mpsc.Timeout):
                mpsc.select(rx, mpsc.never(), timeout=0.0001)

    async def last() -> Any:
        return await rx.recv_async()

    # The far end: a task parked behind the timing-out thread's entries.
    loop_result: dict[str, Any] = {}

    def run_loop() -> None:
        loop_result["value"] = asyncio.run(asyncio.wait_for(last(), WAIT))

    tail = Worker(run_loop)
    wait_until(lambda: len(chan.recvq) == 2)
    Worker(time_out_again_and_again).join()
    assert len(chan.recvq) <= 2 + 2 * _core._COMPACT_AT
    tx.send("first")
    tx.send("last")
    assert first.join() == "first"
    tail.join()
    assert loop_result["value"] == "last"


def test_a_thread_that_left_a_queue_from_the_middle_waits_again_and_gets_only_its_own() -> None:
    """Found in review of this change: a thread's waiter is reused for its next wait; an entry
    it left in the middle of a queue must not make that waiter look parked there again (a
    timed-out send was delivered). On a bounded(1) channel: a sender times out in the middle of
    the send queue, then sends again; its first value must never be received."""
    tx, rx = mpsc.bounded(1)
    chan = rx._chan
    tx.send("fill")
    head = Worker(lambda: tx.send_timeout("head", WAIT))
    wait_until(lambda: len(chan.sendq) == 1)

    def middle() -> None:
        with pytest.raises(mpsc.Timeout):
            tx.send_timeout("timed out", 1.0)  # long after the tail has parked behind it
        tx.send_timeout("again", WAIT)

    mid = Worker(middle)
    wait_until(lambda: len(chan.sendq) == 2)
    tail = Worker(lambda: tx.send_timeout("tail", WAIT))
    wait_until(lambda: len(chan.sendq) >= 3)

    def left_and_parked_again() -> bool:
        entries = list(chan.sendq)
        live = [e for e in entries if not e.waiter.claims]
        return any(e.waiter is _core.LEFT for e in entries) and len(live) == 3

    wait_until(left_and_parked_again)
    got = []
    for _ in range(4):
        got.append(rx.recv_timeout(WAIT))
    head.join()
    mid.join()
    tail.join()
    assert "timed out" not in got
    assert sorted(got) == sorted(["fill", "head", "again", "tail"])
