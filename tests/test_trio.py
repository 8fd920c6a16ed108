"""The async methods under trio: same semantics, trio's own cancellation rules."""

from __future__ import annotations

import random
import threading
from typing import Any

import pytest
from helpers import WAIT, Worker, blocked_receivers, blocked_senders, make, wait_until

import mpsc

trio = pytest.importorskip("trio")
testing = pytest.importorskip("trio.testing")

CAPACITIES = [None, 1, 0]


def run(fn: Any, *args: Any) -> Any:
    async def bounded() -> Any:
        with trio.fail_after(WAIT * 3):
            return await fn(*args)

    return trio.run(bounded)


@pytest.mark.parametrize("cap", CAPACITIES)
def test_tasks_send_and_receive(cap: int | None) -> None:
    tx, rx = make(cap)

    async def main() -> list[int]:
        async def produce() -> None:
            async with tx:
                for i in range(100):
                    await tx.send_async(i)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(produce)
            return [value async for value in rx]

    assert run(main) == list(range(100))


@pytest.mark.parametrize("cap", CAPACITIES)
def test_a_thread_wakes_a_trio_task(cap: int | None) -> None:
    tx, rx = make(cap)

    def produce() -> None:
        with tx:
            for i in range(200):
                tx.send_timeout(i, WAIT)

    async def main() -> list[int]:
        worker = Worker(produce)
        got = [value async for value in rx]
        await trio.to_thread.run_sync(worker.join)
        return got

    assert run(main) == list(range(200))


@pytest.mark.parametrize("cap", CAPACITIES)
def test_a_trio_task_wakes_a_thread(cap: int | None) -> None:
    tx, rx = make(cap)
    consumer = Worker(lambda: list(rx))

    async def main() -> None:
        async with tx:
            for i in range(200):
                await tx.send_async(i)

    run(main)
    assert consumer.join() == list(range(200))


@pytest.mark.parametrize("cap", CAPACITIES)
def test_cancelled_wait_leaves_the_channel_untouched(cap: int | None) -> None:
    tx, rx = make(cap)

    async def main() -> None:
        with trio.move_on_after(0.01) as scope:
            await rx.recv_async()
        assert scope.cancelled_caught
        assert blocked_receivers(rx) == 0
        if cap is not None:
            for i in range(cap):
                tx.try_send(i)
            with trio.move_on_after(0.01) as scope:
                await tx.send_async("not sent")
            assert scope.cancelled_caught
            assert blocked_senders(tx) == 0
            assert list(rx.try_iter()) == list(range(cap))

    run(main)


def test_cancel_after_the_hand_off_returns_the_value_and_trio_cancels_at_next_checkpoint() -> None:
    tx, rx = mpsc.sync_channel(0)
    outcome: dict[str, Any] = {}

    async def main() -> None:
        with trio.CancelScope() as scope:

            async def cancel_once_handed() -> None:
                # The hand-off and the cancellation land in the same scheduling step.
                await testing.wait_all_tasks_blocked()
                tx.try_send("handed")  # the parked receiver takes it now
                scope.cancel()

            async with trio.open_nursery() as nursery:
                nursery.start_soon(cancel_once_handed)
                outcome["value"] = await rx.recv_async()
                await trio.lowlevel.checkpoint()  # the cancellation lands here
                outcome["after"] = "not cancelled"
        outcome["caught"] = scope.cancelled_caught

    run(main)
    assert outcome == {"value": "handed", "caught": True}


@pytest.mark.parametrize("cap", CAPACITIES)
def test_churn_of_cancelled_receives_loses_nothing(cap: int | None) -> None:
    tx, rx = make(cap)
    total = 1500
    received: list[int] = []

    def produce() -> None:
        with tx:
            for i in range(total):
                if i % 50 == 0:  # now and then let the receiver wait, so that waits get cut
                    wait_until(lambda: blocked_receivers(rx) > 0 or rx.is_empty())
                tx.send_timeout(i, WAIT)

    async def main() -> int:
        worker = Worker(produce)
        cut = 0
        while True:
            with trio.move_on_after(random.choice([0, 1e-5, 1e-4, 1e-3])) as scope:
                try:
                    received.append(await rx.recv_async())
                except mpsc.RecvError:
                    break
            cut += scope.cancelled_caught
        await trio.to_thread.run_sync(worker.join)
        return cut

    cut = run(main)
    assert received == list(range(total))  # exactly once, in order
    assert cut > 0


@pytest.mark.parametrize("cap", [1, 0])
def test_churn_of_cancelled_sends_loses_nothing(cap: int) -> None:
    tx, rx = make(cap)
    total = 1500
    got: list[int] = []

    def consume() -> None:
        for value in rx:
            got.append(value)
            if value % 50 == 0:  # now and then let a sender wait, so that waits get cut
                wait_until(lambda: blocked_senders(rx) > 0 or rx.is_disconnected())

    consumer = Worker(consume)

    async def main() -> int:
        cut = 0
        async with tx:
            i = 0
            while i < total:
                with trio.move_on_after(random.choice([0, 1e-5, 1e-4])) as scope:
                    await tx.send_async(i)
                    i += 1
                cut += scope.cancelled_caught
        return cut

    cut = run(main)
    consumer.join()
    assert got == list(range(total))
    assert cut > 0


def test_select_async_with_timers_and_timeout() -> None:
    tx, rx = mpsc.channel()

    async def main() -> None:
        index, value = await mpsc.select_async(rx, mpsc.after(0.01))
        assert index == 1
        assert isinstance(value, float)
        with pytest.raises(mpsc.Timeout):
            await mpsc.select_async(rx, timeout=0.01)
        with pytest.raises(mpsc.Empty):
            await mpsc.select_async(rx, block=False)
        tx.send(5)
        assert await mpsc.select_async(rx, mpsc.never()) == (0, 5)
        tx.close()
        with pytest.raises(mpsc.RecvError) as info:
            await mpsc.select_async(mpsc.never(), rx)
        assert info.value.index == 1

    run(main)


def test_blocking_call_inside_trio_is_refused() -> None:
    tx, rx = mpsc.sync_channel(1)

    async def main() -> None:
        tx.send(1)  # would not block: allowed
        assert rx.recv() == 1
        with pytest.raises(RuntimeError, match="recv_async"):
            rx.recv()
        assert blocked_receivers(rx) == 0

    run(main)


def test_disconnection_wakes_trio_tasks() -> None:
    tx, rx = mpsc.sync_channel(0)
    tx2, rx2 = mpsc.sync_channel(0)

    async def main() -> None:
        async def close_when_parked() -> None:
            await trio.to_thread.run_sync(wait_until, lambda: blocked_receivers(rx) == 1)
            tx.close()
            await trio.to_thread.run_sync(wait_until, lambda: blocked_senders(tx2) == 1)
            rx2.close()

        async with trio.open_nursery() as nursery:
            nursery.start_soon(close_when_parked)
            with pytest.raises(mpsc.RecvError):
                await rx.recv_async()
            with pytest.raises(mpsc.SendError) as info:
                await tx2.send_async("mine")
            assert info.value.value == "mine"

    run(main)


def test_trio_and_asyncio_on_one_channel() -> None:
    import asyncio

    tx, rx = mpsc.channel()
    results: list[list[int]] = []
    lock = threading.Lock()

    def in_trio() -> None:
        async def consume() -> list[int]:
            return [value async for value in rx.clone()]

        got = run(consume)
        with lock:
            results.append(got)

    def in_asyncio() -> None:
        async def consume() -> list[int]:
            async with asyncio.timeout(WAIT * 3):
                return [value async for value in rx.clone()]

        got = asyncio.run(consume())
        with lock:
            results.append(got)

    workers = [Worker(in_trio), Worker(in_asyncio)]
    wait_until(lambda: rx._chan.receivers == 3)
    rx.close()
    for i in range(1000):
        tx.send(i)
    tx.close()
    for worker in workers:
        worker.join()
    assert sorted(results[0] + results[1]) == list(range(1000))


# -- every async operation is a checkpoint (trio's rule, which its own channels follow) ----------


@pytest.mark.parametrize("side", ["recv_async", "send_async"])
def test_a_task_looping_over_a_ready_channel_lets_other_tasks_run(side: str) -> None:
    """recv_async on a channel that always has a value (send_async on one that always has
    room) completes at once, and still yields: a task looping over it does not starve others."""
    tx, rx = mpsc.channel()
    for i in range(50):
        tx.send(i)

    async def main() -> list[str]:
        order: list[str] = []

        async def other() -> None:
            order.append("other ran")

        async with trio.open_nursery() as nursery:
            nursery.start_soon(other)
            for i in range(50):
                if side == "recv_async":
                    await rx.recv_async()
                else:
                    await tx.send_async(i)
                order.append("operation")
        return order

    order = run(main)
    assert "other ran" in order
    assert order.index("other ran") < order.count("operation")  # before the loop was over


@pytest.mark.parametrize("cap", CAPACITIES)
@pytest.mark.parametrize("side", ["recv_async", "send_async", "select_async"])
def test_an_operation_in_a_cancelled_scope_raises_cancelled_and_changes_nothing(
    cap: int | None, side: str
) -> None:
    """Even when it could complete at once: trio delivers a pending cancellation at every
    checkpoint, before the operation, which then did not happen."""
    tx, rx = make(cap)
    if cap != 0:
        tx.send("there")  # a value to receive at once (and, unbounded, room to send)
    else:
        helper = Worker(tx.send_timeout, "there", WAIT)  # a sender waiting: a receive is ready
        wait_until(lambda: blocked_senders(tx) == 1)
    before = len(rx)

    async def main() -> bool:
        with trio.CancelScope() as scope:
            scope.cancel()
            if side == "recv_async":
                await rx.recv_async()
            elif side == "send_async":
                await tx.send_async("new")
            else:
                await mpsc.select_async(rx)
        return scope.cancelled_caught

    assert run(main) is True
    assert len(rx) == before
    assert rx.recv_timeout(WAIT) == "there"  # still there, and nothing else was sent
    if cap == 0:
        helper.join()
    else:
        assert rx.is_empty()
