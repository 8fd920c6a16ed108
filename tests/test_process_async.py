"""mpsc.process for asyncio: send_async, recv_async, async for, async with (DESIGN §2, §4.4).

A task waits for a process channel's fds on its own loop (``loop.add_reader``), not in a
thread. The heart of it is DESIGN §4.4: a cancelled send_async or recv_async takes effect
completely or not at all. The churn tests cancel thousands of operations at random moments,
retrying each cancelled one with the same number, so the receiver must see exactly 0..N-1 in
order: a value lost, doubled or sent by a cancelled call breaks the sequence. A capacity left
wrong by a credit not given back (or given twice) shows in the count of ``try_send`` calls that
fit at the end.

Every asyncio.run body runs under asyncio.timeout and every child is joined with a bound, so
a bug fails a test instead of hanging it.
"""

from __future__ import annotations

import asyncio
import gc
import os
import pickle
import random
import signal
import threading
import time
import weakref
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import process_children as children
import pytest
from helpers import Children, threads_started_since

import mpsc
import mpsc.process as mpp
from mpsc.process import Receiver, Sender

pytestmark = pytest.mark.skipif(not hasattr(os, "memfd_create"), reason="Linux only")

T = TypeVar("T")

WAIT = 10.0
CAPACITIES = [None, 1, 0]
TINY = (0.0, 1e-5, 5e-5, 2e-4)  # delays short enough to cut waits at every stage
CHURN_N = 3000  # numbered messages per churn test
FORKSERVER = __import__("multiprocessing").get_context("forkserver")


def run(main: Callable[[], Coroutine[Any, Any, T]], limit: float = WAIT * 2) -> T:
    """asyncio.run(main()), bounded: a hang fails with TimeoutError instead of stalling."""

    async def bounded() -> T:
        async with asyncio.timeout(limit):
            return await main()

    return asyncio.run(bounded())


def make(capacity: int | None) -> tuple[Sender[Any], Receiver[Any]]:
    return mpp.channel() if capacity is None else mpp.sync_channel(capacity)


def hints(rx: Receiver[Any]) -> int:
    """The receivers' hints waiting in a rendezvous channel's hint pipe (see _rendezvous)."""
    from mpsc.process._waiting import pipe_bytes

    endpoint = rx._ep
    assert endpoint is not None
    return pipe_bytes(endpoint.credit_w)


def free_slots(tx: Sender[Any]) -> int:
    """How many try_send calls fit now (each value taken back at once, so none is counted
    twice); the credits of a bounded channel, exact."""
    fitted = 0
    while True:
        try:
            tx.try_send(("probe", fitted))
        except mpsc.Full:
            break
        fitted += 1
        assert fitted <= mpp.MAX_CAPACITY
    return fitted


# --- every async method ---------------------------------------------------------------------


@pytest.mark.parametrize("capacity", [None, 3, 0])
def test_every_async_method(capacity: int | None) -> None:
    async def main() -> None:
        tx, rx = make(capacity)

        async def produce() -> None:
            async with tx:
                for i in range(20):
                    await tx.send_async(i)

        producer = asyncio.create_task(produce())
        assert await rx.recv_async() == 0
        got = [v async for v in rx]  # ends once the producer's `async with` closed the sender
        assert got == list(range(1, 20))
        await producer
        with pytest.raises(mpsc.RecvError):
            await rx.recv_async()
        with pytest.raises(mpsc.ClosedHandleError):
            await tx.send_async(1)
        async with rx:
            pass
        with pytest.raises(mpsc.ClosedHandleError):
            await rx.recv_async()

        tx, rx = make(capacity)
        rx.close()
        with pytest.raises(mpsc.SendError) as failed:
            await tx.send_async("kept")
        assert failed.value.value == "kept"
        with pytest.raises((TypeError, pickle.PicklingError)):
            await tx.send_async(lambda: 0)  # cannot be pickled: raises at send, sends nothing
        tx.close()

    run(main)


@pytest.mark.parametrize("capacity", [1, 0])
def test_a_blocked_async_send_wakes_with_send_error_when_the_receiver_goes(capacity: int) -> None:
    async def main() -> None:
        tx, rx = make(capacity)
        if capacity:
            tx.send("fills it")
        sending = asyncio.create_task(tx.send_async("waits"))
        await asyncio.sleep(0.01)
        assert not sending.done()
        rx.close()
        with pytest.raises(mpsc.SendError):
            await sending

    run(main)


def test_closing_the_handle_wakes_a_task_awaiting_it() -> None:
    async def main() -> None:
        tx, rx = mpp.channel()
        receiving = asyncio.create_task(rx.recv_async())
        await asyncio.sleep(0.01)
        rx.close()
        started = time.monotonic()
        with pytest.raises(mpsc.ClosedHandleError):
            await receiving
        assert time.monotonic() - started < 1.0
        tx.close()

    run(main)


def test_many_tasks_share_one_handle_and_its_clones() -> None:
    # One fd, many tasks awaiting it: each loop registers an fd once and wakes them all.
    async def main() -> None:
        tx, rx = mpp.sync_channel(2)
        clones = [rx] + [rx.clone() for _ in range(3)]
        got: list[Any] = []

        async def consume(handle: Receiver[Any]) -> None:
            async with handle:
                async for value in handle:
                    got.append(value)

        async def produce(tag: int, sender: Sender[Any]) -> None:
            async with sender:
                for i in range(200):
                    await sender.send_async((tag, i))

        senders = [tx] + [tx.clone() for _ in range(2)]
        await asyncio.gather(*map(consume, clones), *(produce(t, s) for t, s in enumerate(senders)))
        assert sorted(got) == [(t, i) for t in range(3) for i in range(200)]

    run(main)


@pytest.mark.parametrize("capacity", [None, 3, 0])
def test_every_async_method_under_trio(capacity: int | None) -> None:
    trio = pytest.importorskip("trio")
    tx, rx = make(capacity)

    async def main() -> list[Any]:
        got: list[Any] = []
        with trio.fail_after(WAIT):
            with pytest.raises(RuntimeError, match="event loop"):
                rx.recv()  # a blocking call would freeze trio's loop
            async with trio.open_nursery() as nursery:

                async def produce() -> None:
                    async with tx:
                        for i in range(200):
                            await tx.send_async(i)

                nursery.start_soon(produce)
                async with rx:
                    async for value in rx:
                        got.append(value)
        return got

    assert trio.run(main) == list(range(200))


def test_a_trio_task_receives_from_a_child_process(procs: Children) -> None:
    trio = pytest.importorskip("trio")
    tx, rx = mpp.sync_channel(10)
    child = procs.start(children.produce, tx, 1, 300)
    tx.close()

    async def main() -> list[Any]:
        with trio.fail_after(WAIT):
            async with rx:
                return [value async for value in rx]

    assert trio.run(main) == [(1, i) for i in range(300)]
    assert procs.join(child) == 0


@pytest.mark.parametrize("capacity", CAPACITIES)
def test_trio_cancellation_churn_loses_and_duplicates_nothing(capacity: int | None) -> None:
    """Every send and receive cut at a random moment by a trio cancel scope: a cut call either
    happened (it returns) or took and sent nothing."""
    trio = pytest.importorskip("trio")
    count = 400

    async def cut(make_call: Callable[[], Coroutine[Any, Any, Any]]) -> tuple[bool, Any]:
        with trio.move_on_after(random.choice(TINY)) as scope:
            result = await make_call()
        if scope.cancelled_caught:
            return False, None
        return True, result

    async def main() -> tuple[list[Any], int, int]:
        tx, rx = make(capacity)
        got: list[Any] = []
        cuts = [0, 0]

        async def send_all() -> None:
            with tx:
                i = 0
                while i < count:
                    done, _ = await cut(lambda: tx.send_async(i))
                    if done:
                        i += 1
                    else:
                        cuts[0] += 1

        with trio.fail_after(WAIT * 3):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(send_all)
                while True:
                    try:
                        done, value = await cut(rx.recv_async)
                    except mpsc.RecvError:
                        break
                    if done:
                        got.append(value)
                    else:
                        cuts[1] += 1
        return got, cuts[0], cuts[1]

    got, sends_cut, recvs_cut = trio.run(main)
    assert got == list(range(count))  # each exactly once, in order
    if capacity is not None:  # (on an unbounded channel no send waits, and few receives do)
        assert recvs_cut + sends_cut > 10, (sends_cut, recvs_cut)


def test_under_trio_every_async_call_is_a_checkpoint() -> None:
    """Hostile review (process2) 05: trio's rule — an async call raises a pending cancellation
    before it does anything, and lets other tasks run even when it completes at once. A task
    draining a full channel starved every other task and ignored its own cancel scope."""
    trio = pytest.importorskip("trio")
    count = 200

    async def main() -> tuple[int, int, int, int]:
        tx, rx = mpp.channel()
        for i in range(count):
            tx.send(i)
        beats = 0

        async def heartbeat() -> None:
            nonlocal beats
            while True:
                beats += 1
                await trio.sleep(0)

        with trio.fail_after(WAIT):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(heartbeat)
                with trio.CancelScope() as scope:
                    scope.cancel()
                    with pytest.raises(trio.Cancelled):
                        await rx.recv_async()
                    with pytest.raises(trio.Cancelled):
                        await tx.send_async("never")
                before = beats
                drained = [await rx.recv_async() for _ in range(count)]
                received_beats = beats - before
                before = beats
                for i in range(count):
                    await tx.send_async(i)
                sent_beats = beats - before
                nursery.cancel_scope.cancel()
        assert drained == list(range(count))
        left = len(list(rx.try_iter()))
        tx.close()
        rx.close()
        return received_beats, sent_beats, left, beats

    received_beats, sent_beats, left, _ = trio.run(main)
    assert left == count  # the cancelled send sent nothing; the others all did
    assert received_beats >= count // 2 and sent_beats >= count // 2, (received_beats, sent_beats)


def test_trio_waits_take_none_of_trios_thread_tokens() -> None:
    """Process review 2, finding 02: each waiting call held one of trio's 40 default thread
    tokens, so 40 idle waiters stalled every ``trio.to_thread`` call of the program (and other
    mpsc waits). The waits use a limiter of their own; a message still reaches its waiter."""
    trio = pytest.importorskip("trio")

    async def main() -> tuple[int, list[Any]]:
        channels = [mpp.channel() for _ in range(50)]
        got: list[Any] = []

        async def wait(rx: Any) -> None:
            got.append(await rx.recv_async())

        with trio.fail_after(WAIT):
            async with trio.open_nursery() as nursery:
                for _, rx in channels:
                    nursery.start_soon(wait, rx)
                await trio.sleep(0.05)  # (long enough for every task to be waiting)
                borrowed = trio.to_thread.current_default_thread_limiter().borrowed_tokens
                await trio.to_thread.run_sync(lambda: None)
                for i, (tx, _) in enumerate(channels):
                    tx.send(i)
        return borrowed, got

    borrowed, got = trio.run(main)
    assert borrowed == 0
    assert sorted(got) == list(range(50))


def test_a_child_forked_in_a_trio_task_may_block() -> None:
    """Process review 2, finding 04: a child forked from a trio task inherited trio's "a run is
    on this thread" state, so every blocking mpsc call there raised RuntimeError (freezing the
    loop), though the child's copy of the loop never runs. As under asyncio, it may block; the
    parent, still in its run, is still refused."""
    trio = pytest.importorskip("trio")

    async def main() -> tuple[int, Any]:
        tx, rx = mpp.channel()
        result_tx, result_rx = mpp.channel()
        pid = os.fork()
        if pid == 0:  # the child: blocks in a receive, and on a thread channel
            code = 1
            try:
                local_tx, local_rx = mpsc.channel()
                with pytest.raises(mpsc.Timeout):
                    local_rx.recv_timeout(0.01)
                result_tx.send(("child got", rx.recv_timeout(WAIT)))
                code = 0
            finally:
                os._exit(code)
        with pytest.raises(RuntimeError, match="freeze the running event loop"):
            rx.recv_timeout(0.01)
        tx.send("hello")
        with trio.fail_after(WAIT):
            got = await result_rx.recv_async()
        _, status = await trio.to_thread.run_sync(os.waitpid, pid, 0)
        return status, got

    status, got = trio.run(main)
    assert os.waitstatus_to_exitcode(status) == 0
    assert got == ("child got", "hello")


def test_outside_a_loop_is_refused_clearly() -> None:
    tx, rx = mpp.channel()
    coroutine = rx.recv_async()
    with pytest.raises(RuntimeError, match="running asyncio or trio event loop"):
        coroutine.send(None)


# --- blocking calls inside a running loop -----------------------------------------------------


def _blocking_calls() -> dict[str, tuple[Callable[[dict[str, Any]], Any], str]]:
    """Each call would block on the channels the test makes: the call, and the method to suggest."""
    return {
        "recv": (lambda c: c["rx"].recv(), "recv_async"),
        "recv_timeout": (lambda c: c["rx"].recv_timeout(WAIT), "recv_async"),
        "recv_deadline": (lambda c: c["rx"].recv_deadline(time.monotonic() + WAIT), "recv_async"),
        "next": (lambda c: next(c["rx"]), "recv_async"),
        "iterate": (lambda c: list(c["rx"]), "recv_async"),
        "zero_recv": (lambda c: c["zero_rx"].recv(), "recv_async"),
        "send_full": (lambda c: c["full_tx"].send("refused"), "send_async"),
        "send_timeout": (lambda c: c["full_tx"].send_timeout("refused", WAIT), "send_async"),
        "send_rendezvous": (lambda c: c["zero_tx"].send("refused"), "send_async"),
    }


@pytest.mark.parametrize("name", list(_blocking_calls()))
def test_blocking_call_inside_a_running_loop_raises_and_changes_nothing(name: str) -> None:
    call, suggestion = _blocking_calls()[name]
    tx, rx = mpp.channel()
    full_tx, full_rx = mpp.sync_channel(1)
    full_tx.send("old")
    zero_tx, zero_rx = mpp.sync_channel(0)
    channels = {"rx": rx, "full_tx": full_tx, "zero_tx": zero_tx, "zero_rx": zero_rx}

    async def main() -> None:
        with pytest.raises(RuntimeError, match=rf"event loop.*{suggestion}"):
            call(channels)
        # the channels work as before, from this very loop
        tx.send("new")
        assert await rx.recv_async() == "new"
        assert full_rx.try_recv() == "old"
        with pytest.raises(mpsc.Empty):
            full_rx.try_recv()  # "refused" was not sent
        assert free_slots(full_tx) == 1  # and its credit was not kept
        assert hints(zero_rx) == 0  # no receiver was left waiting
        with pytest.raises(mpsc.Full):
            zero_tx.try_send("x")

    run(main)
    with pytest.raises(mpsc.Empty):
        zero_rx.try_recv()  # and no offer either


def test_calls_that_need_no_wait_work_inside_a_running_loop() -> None:
    async def main() -> None:
        tx, rx = mpp.sync_channel(1)
        tx.send(1)  # there is room
        assert rx.recv() == 1  # a message is there
        with pytest.raises(mpsc.Timeout):
            rx.recv_timeout(0)  # an answer, not a wait
        with pytest.raises(mpsc.Empty):
            rx.try_recv()
        tx.close()
        with pytest.raises(mpsc.RecvError):
            rx.recv()  # disconnected: an answer
        zero_tx, zero_rx = mpp.sync_channel(0)
        with pytest.raises(mpsc.Timeout):
            zero_tx.send_timeout("no one", 0)
        with pytest.raises(mpsc.Empty):
            zero_rx.try_recv()

    run(main)


# --- cancellation -----------------------------------------------------------------------------


def test_a_send_claimed_as_it_is_cancelled_returns_and_the_cancellation_lands_next() -> None:
    # The rendezvous sender's withdrawal fails (the receiver read the token first): the send
    # happened, so it returns, and the task's next await raises the cancellation.
    async def main() -> None:
        tx, rx = mpp.sync_channel(0)
        steps: list[str] = []

        async def sender() -> None:
            await tx.send_async("v")
            steps.append("returned")
            await asyncio.sleep(WAIT)  # the cancellation is delivered again here
            steps.append("slept")

        task = asyncio.create_task(sender())
        await asyncio.sleep(0)  # the sender's first step: its offer is out, it awaits the claim
        assert rx.try_recv() == "v"  # claimed, before the sender runs again
        task.cancel()
        await asyncio.wait([task], timeout=WAIT)
        assert task.cancelled()
        assert steps == ["returned"]
        with pytest.raises(mpsc.Empty):
            rx.try_recv()

    run(main)


def test_a_send_cancelled_before_its_claim_is_withdrawn() -> None:
    async def main() -> None:
        tx, rx = mpp.sync_channel(0)
        task = asyncio.create_task(tx.send_async("v"))
        await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        with pytest.raises(mpsc.Empty):
            rx.try_recv()  # the withdrawn offer is read and dropped
        sending = asyncio.create_task(tx.send_async("w"))
        assert await rx.recv_async() == "w"
        await sending

    run(main)


def test_a_bounded_send_cancelled_while_waiting_gives_no_slot_away() -> None:
    async def main() -> None:
        tx, rx = mpp.sync_channel(2)
        tx.send(0)
        tx.send(1)
        waiting = [asyncio.create_task(tx.send_async(f"x{i}")) for i in range(3)]
        await asyncio.sleep(0.01)
        assert rx.try_recv() == 0  # one slot frees: one waiter takes it...
        await asyncio.sleep(0.01)
        for task in waiting:
            task.cancel()
        results = await asyncio.gather(*waiting, return_exceptions=True)
        sent = [i for i, r in enumerate(results) if r is None]
        assert len(sent) == 1  # ...and only one
        assert all(isinstance(r, asyncio.CancelledError) for i, r in enumerate(results) if i not in sent)
        assert rx.try_recv() == 1
        assert rx.try_recv() == f"x{sent[0]}"
        assert free_slots(tx) == 2  # no credit lost or duplicated

    run(main)


def test_a_rendezvous_recv_cancelled_takes_its_hint_back() -> None:
    async def main() -> None:
        tx, rx = mpp.sync_channel(0)
        task = asyncio.create_task(rx.recv_async())
        await asyncio.sleep(0.01)
        assert hints(rx) == 1
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert hints(rx) == 0
        with pytest.raises(mpsc.Full):
            tx.try_send("nobody waits")

    run(main)


async def _cancelled_at_random(make_call: Callable[[], Coroutine[Any, Any, T]]) -> tuple[bool, Any]:
    """Run one call, cut at a random moment by asyncio.timeout or Task.cancel; (done, result)."""
    delay = random.choice(TINY)
    if random.random() < 0.5:
        try:
            async with asyncio.timeout(delay):
                return True, await make_call()
        except TimeoutError:
            return False, None
    task = asyncio.create_task(make_call())
    await asyncio.sleep(delay)
    task.cancel()
    try:
        return True, await task
    except asyncio.CancelledError:
        task_self = asyncio.current_task()
        assert task_self is not None and not task_self.cancelling()  # the worker's, not ours
        return False, None


async def _churn_send(tx: Sender[Any], count: int, watch: Callable[[], None]) -> int:
    """Send 0..count-1, each retried until a call returns; how many calls were cancelled."""
    cancelled = 0
    i = 0
    while i < count:
        done, _ = await _cancelled_at_random(lambda: tx.send_async(i))
        watch()
        if done:
            i += 1
        else:
            cancelled += 1
    return cancelled


async def _churn_recv(
    rx: Receiver[Any], got: list[Any], watch: Callable[[], None], count: float = float("inf")
) -> int:
    """Receive until every sender is gone (or ``count`` values came), each call cut at random;
    how many calls were cancelled."""
    cancelled = 0
    while len(got) < count:
        try:
            done, value = await _cancelled_at_random(rx.recv_async)
        except mpsc.RecvError:
            return cancelled
        watch()
        if done:
            got.append(value)
        else:
            cancelled += 1
    return cancelled


@pytest.mark.parametrize("capacity", CAPACITIES)
def test_cancellation_churn_between_tasks_loses_and_duplicates_nothing(capacity: int | None) -> None:
    async def main() -> None:
        tx, rx = make(capacity)
        got: list[Any] = []

        def watch() -> None:
            if capacity:
                assert len(rx) <= capacity

        async def send_all() -> int:
            with tx:
                return await _churn_send(tx, CHURN_N, watch)

        sends_cut, recvs_cut = await asyncio.gather(send_all(), _churn_recv(rx, got, watch))
        assert got == list(range(CHURN_N))  # each exactly once, in order: no cancelled call counted
        if capacity is not None:  # cancellations did land in waits (on an unbounded channel
            # no send waits, and the receiver rarely does: the sender runs ahead of it)
            assert recvs_cut > 20 and sends_cut > 20, (sends_cut, recvs_cut)

    run(main, limit=WAIT * 4)


@pytest.mark.parametrize("capacity", [1, 0])
def test_cancellation_churn_keeps_the_capacity_exact(capacity: int) -> None:
    async def main() -> None:
        tx, rx = make(capacity)
        got: list[Any] = []
        await asyncio.gather(
            _churn_send(tx, CHURN_N // 3, lambda: None), _churn_recv(rx, got, lambda: None, CHURN_N // 3)
        )
        assert got == list(range(CHURN_N // 3))
        assert free_slots(tx) == capacity  # every credit back, none twice
        if capacity == 0:
            assert hints(rx) == 0  # no receiver left a hint behind

    run(main, limit=WAIT * 4)


@pytest.mark.parametrize("capacity", CAPACITIES)
def test_a_task_receives_from_a_child_process_with_cancellations(
    procs: Children, capacity: int | None
) -> None:
    tx, rx = make(capacity)
    child = procs.start(children.produce, tx, 7, CHURN_N)
    tx.close()

    async def main() -> list[Any]:
        got: list[Any] = []
        await _churn_recv(rx, got, lambda: None)
        return got

    assert run(main, limit=WAIT * 4) == [(7, i) for i in range(CHURN_N)]
    assert procs.join(child) == 0


@pytest.mark.parametrize("capacity", CAPACITIES)
def test_a_task_sends_to_a_child_process_with_cancellations(procs: Children, capacity: int | None) -> None:
    tx, rx = make(capacity)
    results_tx, results_rx = mpp.channel()
    child = procs.start(children.consume, rx, results_tx)
    rx.close()
    results_tx.close()

    async def main() -> None:
        with tx:
            await _churn_send(tx, CHURN_N, lambda: None)

    run(main, limit=WAIT * 4)
    assert results_rx.recv_timeout(WAIT) == list(range(CHURN_N))
    assert procs.join(child) == 0


def test_a_task_receives_from_a_child_process(procs: Children) -> None:
    tx, rx = mpp.sync_channel(10)
    child = procs.start(children.produce, tx, 1, 500)
    tx.close()

    async def main() -> list[Any]:
        async with rx:
            return [value async for value in rx]

    assert run(main) == [(1, i) for i in range(500)]
    assert procs.join(child) == 0


# --- death ------------------------------------------------------------------------------------


@pytest.mark.parametrize("capacity", CAPACITIES)
def test_sigkill_of_the_sender_process_ends_a_task_awaiting_it(procs: Children, capacity: int | None) -> None:
    tx, rx = make(capacity)
    ready_tx, ready_rx = mpp.channel()
    child = procs.start(children.produce_forever, tx, ready_tx)
    tx.close()
    ready_tx.close()
    pid = ready_rx.recv_timeout(WAIT)

    async def main() -> tuple[list[Any], float]:
        got = []
        killed = 0.0
        async for value in rx:
            got.append(value)
            if len(got) == 100:
                os.kill(pid, signal.SIGKILL)
                killed = time.monotonic()
        return got, time.monotonic() - killed

    got, detected = run(main)
    assert got == list(range(len(got))) and len(got) >= 100  # in order, nothing torn or doubled
    assert detected < 2.0
    assert procs.join(child) == -signal.SIGKILL


def test_sigkill_of_an_idle_sender_process_fails_a_blocked_recv_async(procs: Children) -> None:
    tx, rx = mpp.channel()
    ready_tx, ready_rx = mpp.channel()
    stop_tx, stop_rx = mpp.channel()
    child = procs.start(children.hold_receiver, tx, ready_tx, stop_rx)  # holds the Sender
    for handle in (tx, ready_tx, stop_rx):
        handle.close()
    pid = ready_rx.recv_timeout(WAIT)

    async def main() -> float:
        receiving = asyncio.create_task(rx.recv_async())
        await asyncio.sleep(0.05)
        assert not receiving.done()
        os.kill(pid, signal.SIGKILL)
        killed = time.monotonic()
        with pytest.raises(mpsc.RecvError):
            await receiving
        return time.monotonic() - killed

    assert run(main) < 2.0
    assert procs.join(child) == -signal.SIGKILL
    stop_tx.close()


@pytest.mark.parametrize("capacity", [1, 0])
def test_sigkill_of_the_receiver_process_fails_a_blocked_send_async(procs: Children, capacity: int) -> None:
    tx, rx = mpp.sync_channel(capacity)
    ready_tx, ready_rx = mpp.channel()
    stop_tx, stop_rx = mpp.channel()
    child = procs.start(children.hold_receiver, rx, ready_tx, stop_rx)
    for handle in (rx, ready_tx, stop_rx):
        handle.close()
    pid = ready_rx.recv_timeout(WAIT)
    if capacity:
        tx.send_timeout("fills it", WAIT)

    async def main() -> None:
        sending = asyncio.create_task(tx.send_async("waits"))
        await asyncio.sleep(0.05)
        assert not sending.done()
        os.kill(pid, signal.SIGKILL)
        with pytest.raises(mpsc.SendError) as failed:
            await sending
        assert failed.value.value == "waits"

    run(main)
    assert procs.join(child) == -signal.SIGKILL
    stop_tx.close()


def test_waiting_tasks_use_no_thread() -> None:
    async def main() -> None:
        before = set(threading.enumerate())
        tx, rx = mpp.sync_channel(1)
        tx.send("fills it")
        zero_tx, zero_rx = mpp.sync_channel(0)
        waiting = [asyncio.create_task(zero_rx.recv_async()) for _ in range(20)]
        waiting += [asyncio.create_task(tx.send_async(i)) for i in range(20)]
        await asyncio.sleep(0.05)
        assert not any(task.done() for task in waiting)
        assert threads_started_since(before) == set()
        for task in waiting:
            task.cancel()
        await asyncio.gather(*waiting, return_exceptions=True)
        assert hints(zero_rx) == 0
        assert rx.try_recv() == "fills it"
        assert free_slots(tx) == 1

    run(main)


def test_tasks_left_waiting_on_a_closed_loop_leave_the_channels_as_they_were() -> None:
    # Their coroutines are closed unfinished when collected (GeneratorExit at the await): the
    # credit a sender held is given back, a rendezvous offer withdrawn, a receiver's hint taken.
    full_tx, full_rx = mpp.sync_channel(1)
    full_tx.send("old")
    zero_tx, zero_rx = mpp.sync_channel(0)
    other_tx, other_rx = mpp.sync_channel(0)  # (a task would claim the offer of one beside it)
    loop = asyncio.new_event_loop()

    async def start() -> list[asyncio.Task[Any]]:
        tasks = [
            asyncio.create_task(full_tx.send_async("never")),
            asyncio.create_task(zero_tx.send_async("never")),
            asyncio.create_task(other_rx.recv_async()),
        ]
        await asyncio.sleep(0.01)
        assert not any(task.done() for task in tasks)
        return tasks

    tasks = loop.run_until_complete(asyncio.wait_for(start(), WAIT))
    loop.close()
    collected = weakref.ref(loop)
    del tasks, loop
    gc.collect()
    assert collected() is None  # nothing of mpsc keeps a closed loop (and its tasks) alive
    assert full_rx.try_recv() == "old"
    with pytest.raises(mpsc.Empty):
        full_rx.try_recv()
    assert free_slots(full_tx) == 1
    with pytest.raises(mpsc.Empty):
        zero_rx.try_recv()  # the withdrawn offer is read and dropped
    assert hints(other_rx) == 0
    with pytest.raises(mpsc.Full):
        other_tx.try_send("nobody waits")
