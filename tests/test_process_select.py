"""select over process channels, thread channels and timers at once (issue 11, DESIGN §4.3).

A process channel's operation is tried only in the selecting thread, and wakes the select
through its file descriptors (``mpsc.process._select``). These tests check the select's rules
with process operations in the set: exactly one operation takes effect (conservation with
producer processes and threads, every message counted), a ready operation is found whichever
side it is on, fairness between a ready process channel and a ready thread channel, errors
carry the operation's index, closing and disconnection, timeouts and timers, the async
variant, rendezvous hints, and interrupts landing anywhere in the select.
"""

from __future__ import annotations

import asyncio
import gc
import os
import threading
import time
import traceback
from collections import Counter
from collections.abc import Callable
from typing import Any

import process_children as children
import pytest
from checkpoints import Injected, SignalInjector, every_two_points, quietly
from helpers import Boom, Children, Interrupter, Worker, check_point, drained

import mpsc
import mpsc.process as mpp

pytestmark = pytest.mark.skipif(not hasattr(os, "memfd_create"), reason="Linux only")

WAIT = 10.0
CAPACITIES = [None, 0, 1, 8]


def process_channel(capacity: int | None) -> tuple[mpp.Sender[Any], mpp.Receiver[Any]]:
    return mpp.channel() if capacity is None else mpp.sync_channel(capacity)


def later(seconds: float, fn: Any, *args: Any) -> threading.Timer:
    timer = threading.Timer(seconds, fn, args)
    timer.daemon = True
    timer.start()
    return timer


# --- finding the ready operation ------------------------------------------------------------


@pytest.mark.parametrize("capacity", [None, 1, 8])
def test_a_value_already_on_either_side_is_selected(capacity: int | None) -> None:
    ptx, prx = process_channel(capacity)
    ttx, trx = mpsc.channel()
    with pytest.raises(mpsc.Empty):
        mpsc.select(prx, trx, block=False)
    ptx.send("p")
    assert mpsc.select(prx, trx, timeout=WAIT) == (0, "p")
    ttx.send("t")
    assert mpsc.select(prx, trx, timeout=WAIT) == (1, "t")
    with pytest.raises(mpsc.Empty):
        mpsc.select(trx, prx, block=False)


@pytest.mark.parametrize("capacity", CAPACITIES)
def test_a_blocked_select_wakes_for_a_process_value_and_for_a_thread_value(capacity: int | None) -> None:
    ptx, prx = process_channel(capacity)
    ttx, trx = mpsc.channel()
    # A rendezvous send waits for the select's claim, so it runs in a thread of its own.
    sender = Worker(ptx.send_timeout, "p", WAIT)
    assert mpsc.select(trx, prx, timeout=WAIT) == (1, "p")
    sender.done.wait(WAIT)
    assert sender.error is None
    later(0.02, ttx.send, "t")
    assert mpsc.select(trx, prx, timeout=WAIT) == (0, "t")


def test_a_value_from_a_child_process_wakes_a_select(procs: Children) -> None:
    ptx, prx = mpp.channel()
    ttx, trx = mpsc.channel()
    child = procs.start(children.produce, ptx, 7, 1)
    ptx.close()
    assert mpsc.select(trx, prx, timeout=WAIT) == (1, (7, 0))
    with pytest.raises(mpsc.RecvError) as gone:
        mpsc.select(trx, prx, timeout=WAIT)
    assert gone.value.index == 1
    assert procs.join(child) == 0
    ttx.send("still works")  # both are ready now: the value, or the disconnection again
    outcomes = set()
    for _ in range(100):
        try:
            outcomes.add(mpsc.select(trx, prx, timeout=WAIT))
            ttx.send("still works")
        except mpsc.RecvError as again:
            outcomes.add(("gone", again.index))
    assert outcomes == {(0, "still works"), ("gone", 1)}


def test_both_ready_is_a_fair_draw() -> None:
    ptx, prx = mpp.channel()
    ttx, trx = mpsc.channel()
    rounds = 400
    for i in range(rounds):
        ptx.send(i)
        ttx.send(i)
    picked: Counter[int] = Counter()
    for _ in range(rounds):
        index, _value = mpsc.select(prx, trx, timeout=WAIT)
        picked[index] += 1
    # Uniform draw: each side about half; 400 rounds put 120 at ~8 standard deviations out.
    assert picked[0] > 120 and picked[1] > 120, picked


def test_a_send_operation_waits_for_a_slot_on_a_full_process_channel() -> None:
    ptx, prx = mpp.sync_channel(1)
    ttx, trx = mpsc.channel()
    ptx.send("fills it")
    with pytest.raises(mpsc.Empty):
        mpsc.select((ptx, "second"), trx, block=False)
    later(0.02, prx.recv_timeout, WAIT)
    assert mpsc.select((ptx, "second"), trx, timeout=WAIT) == (0, None)
    assert prx.recv_timeout(WAIT) == "second"
    with pytest.raises(mpsc.Empty):
        prx.try_recv()


def test_an_unbounded_process_send_completes_at_once() -> None:
    ptx, prx = mpp.channel()
    ttx, trx = mpsc.channel()
    assert mpsc.select(trx, (ptx, 1), timeout=WAIT) == (1, None)
    assert prx.recv_timeout(WAIT) == 1


def test_timers_and_timeouts_with_process_operations() -> None:
    ptx, prx = mpp.channel()
    ttx, trx = mpsc.channel()
    start = time.monotonic()
    index, _ = mpsc.select(prx, trx, mpsc.after(0.05), timeout=WAIT)
    assert index == 2
    assert time.monotonic() - start < WAIT / 2
    start = time.monotonic()
    with pytest.raises(mpsc.Timeout):
        mpsc.select(prx, trx, timeout=0.05)
    elapsed = time.monotonic() - start
    assert 0.04 <= elapsed < WAIT / 2
    with pytest.raises(mpsc.Empty):
        mpsc.select(prx, block=False)  # one process operation alone
    with pytest.raises(mpsc.Timeout):
        mpsc.select(prx, timeout=0.02)


# --- errors and closing ---------------------------------------------------------------------


def test_disconnections_raise_with_the_operation_index() -> None:
    ptx, prx = mpp.channel()
    ttx, trx = mpsc.channel()
    ptx.send("queued")
    ptx.close()
    assert mpsc.select(trx, prx, timeout=WAIT) == (1, "queued")  # drained first
    with pytest.raises(mpsc.RecvError) as gone:
        mpsc.select(trx, prx, timeout=WAIT)
    assert gone.value.index == 1
    stx, srx = mpp.sync_channel(1)
    srx.close()
    with pytest.raises(mpsc.SendError) as refused:
        mpsc.select(trx, (stx, "v"), timeout=WAIT)
    assert refused.value.index == 1 and refused.value.value == "v"


def test_bad_operations_are_refused_with_their_index() -> None:
    ptx, prx = mpp.channel()
    with pytest.raises(TypeError, match="operation 1: a send is a"):
        mpsc.select(prx, ptx)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="operation 0: a Receiver cannot send"):
        mpsc.select((prx, 1))  # type: ignore[arg-type]
    prx_clone = prx.clone()
    prx_clone.close()
    with pytest.raises(mpsc.ClosedHandleError):
        mpsc.select(prx_clone, timeout=0.01)
    ptx.send("intact")
    assert prx.recv_timeout(WAIT) == "intact"


def test_a_handle_closed_by_another_thread_ends_a_blocked_select() -> None:
    ptx, prx = mpp.channel()
    ttx, trx = mpsc.channel()
    mine = prx.clone()
    later(0.05, mine.close)
    start = time.monotonic()
    with pytest.raises(mpsc.ClosedHandleError):
        mpsc.select(trx, mine, timeout=WAIT)
    assert time.monotonic() - start < 2.0
    ptx.send("the channel is intact")
    assert prx.recv_timeout(WAIT) == "the channel is intact"


def test_a_select_object_mixes_flavours_and_removes_what_disconnects(procs: Children) -> None:
    ptx, prx = mpp.channel()
    ttx, trx = mpsc.channel()
    count = 300
    child = procs.start(children.produce, ptx, 1, count)
    ptx.close()
    worker = Worker(lambda: [ttx.send((2, i)) for i in range(count)] and ttx.close())
    sel = mpsc.Select(prx, trx)
    got: list[Any] = []
    while len(sel):
        try:
            _index, value = sel.select(timeout=WAIT)
        except mpsc.RecvError as gone:
            assert gone.index is not None
            sel.remove(gone.index)
            continue
        got.append(value)
    assert [v for v in got if v[0] == 1] == [(1, i) for i in range(count)]
    assert [v for v in got if v[0] == 2] == [(2, i) for i in range(count)]
    assert procs.join(child) == 0
    assert worker.done.wait(WAIT) and worker.error is None


# --- exactly one operation takes effect -----------------------------------------------------


@pytest.mark.parametrize("capacity", CAPACITIES)
def test_conservation_with_producer_processes_and_threads(procs: Children, capacity: int | None) -> None:
    """Two producer processes on one process channel, two producer threads on a thread
    channel, one consumer selecting over both: every message exactly once, per-sender FIFO."""
    count = 200 if capacity == 0 else 2000
    ptx, prx = process_channel(capacity)
    ttx, trx = mpsc.sync_channel(4)
    kids = [procs.start(children.produce, ptx, tag, count) for tag in (1, 2)]
    ptx.close()

    def produce(tx: mpsc.Sender[Any], tag: int) -> None:
        with tx:
            for i in range(count):
                tx.send_timeout((tag, i), WAIT)

    threads = [Worker(produce, ttx.clone(), tag) for tag in (3, 4)]
    ttx.close()
    got: dict[int, list[int]] = {1: [], 2: [], 3: [], 4: []}
    sel = mpsc.Select(prx, trx)
    while len(sel):
        try:
            _index, (tag, i) = sel.select(timeout=WAIT)
        except mpsc.RecvError as gone:
            sel.remove(gone.index)  # type: ignore[arg-type]
            continue
        got[tag].append(i)
    for tag in (1, 2, 3, 4):
        assert got[tag] == list(range(count)), tag
    for kid in kids:
        assert procs.join(kid) == 0
    for thread in threads:
        assert thread.done.wait(WAIT) and thread.error is None


@pytest.mark.parametrize("capacity", [None, 0, 1])
def test_select_sends_to_a_consumer_process_exactly_once(procs: Children, capacity: int | None) -> None:
    """A select offering each value on a process channel and on a thread channel: each value
    goes to exactly one of them; the thread channel's consumer and the consumer process
    together received each value once."""
    count = 200 if capacity == 0 else 1000
    ptx, prx = process_channel(capacity)
    report_tx, report_rx = mpp.channel()
    child = procs.start(children.consume, prx, report_tx)
    prx.close()
    report_tx.close()
    ttx, trx = mpsc.sync_channel(1)
    thread_got: list[int] = []
    consumer = Worker(lambda: thread_got.extend(trx))
    for i in range(count):
        mpsc.select((ptx, i), (ttx, i), timeout=WAIT)
    ptx.close()
    ttx.close()
    child_got = report_rx.recv_timeout(WAIT)
    assert consumer.done.wait(WAIT) and consumer.error is None
    assert sorted(child_got + thread_got) == list(range(count))
    assert child_got == sorted(child_got) and thread_got == sorted(thread_got)
    assert procs.join(child) == 0


def test_several_threads_share_one_select_object() -> None:
    ptx, prx = mpp.channel()
    ttx, trx = mpsc.channel()
    sel = mpsc.Select(prx, trx)
    count = 2000
    got: list[list[Any]] = [[], [], []]

    def consume(mine: list[Any]) -> None:
        while True:
            try:
                mine.append(sel.select(timeout=WAIT)[1])
            except mpsc.RecvError:
                return

    workers = [Worker(consume, mine) for mine in got]
    for i in range(count):
        ptx.send(("p", i))
        ttx.send(("t", i))
    ptx.close()
    ttx.close()  # a RecvError from either ends a consumer; the rest drain through try_recv
    for worker in workers:
        assert worker.done.wait(WAIT) and worker.error is None
    rest = [v for rx in (prx, trx) for v in rx.try_iter()]
    everything = [v for mine in got for v in mine] + rest
    assert Counter(everything) == Counter([("p", i) for i in range(count)] + [("t", i) for i in range(count)])


# --- rendezvous -----------------------------------------------------------------------------


def test_try_send_finds_a_select_waiting_on_a_rendezvous_channel() -> None:
    rtx, rrx = mpp.sync_channel(0)
    ttx, trx = mpsc.channel()
    selecting = Worker(lambda: mpsc.select(rrx, trx, timeout=WAIT))
    deadline = time.monotonic() + WAIT
    while True:  # the select's hint shows up once it waits; no value is ever lost meanwhile
        try:
            rtx.try_send("found")
            break
        except mpsc.Full:
            assert time.monotonic() < deadline, "try_send never found the waiting select"
            assert not selecting.done.wait(0.005)
    assert selecting.done.wait(WAIT) and selecting.error is None
    assert selecting.result == (0, "found")
    with pytest.raises(mpsc.Full):  # the hint went with the select
        rtx.try_send("nobody waits")


# --- asyncio --------------------------------------------------------------------------------


def test_select_async_over_process_and_thread_channels() -> None:
    async def main() -> None:
        ptx, prx = mpp.channel()
        ttx, trx = mpsc.channel()
        loop = asyncio.get_running_loop()
        registered = set(loop._selector.get_map())  # type: ignore[attr-defined]
        loop.call_later(0.02, ptx.send, "p")
        assert await mpsc.select_async(trx, prx, timeout=WAIT) == (1, "p")
        loop.call_later(0.02, ttx.send, "t")
        assert await mpsc.select_async(trx, prx, timeout=WAIT) == (0, "t")
        with pytest.raises(mpsc.Timeout):
            await mpsc.select_async(trx, prx, timeout=0.05)
        # Cancelled while waiting: nothing taken, nothing left registered on the loop.
        task = asyncio.ensure_future(mpsc.select_async(trx, prx))
        await asyncio.sleep(0.02)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        ptx.send("after")
        assert prx.recv_timeout(WAIT) == "after"
        assert set(loop._selector.get_map()) == registered  # type: ignore[attr-defined]

    asyncio.run(asyncio.wait_for(main(), WAIT))


def test_select_async_cancelled_at_random_moments_loses_nothing() -> None:
    async def main() -> None:
        ptx, prx = mpp.channel()
        ttx, trx = mpsc.channel()
        count = 400

        async def produce() -> None:
            for i in range(count):
                ptx.send(("p", i))
                ttx.send(("t", i))
                if i % 7 == 0:
                    await asyncio.sleep(0)
            ptx.close()
            ttx.close()

        producer = asyncio.ensure_future(produce())
        got: list[Any] = []
        sel = mpsc.Select(prx, trx)
        rounds = 0
        while len(sel):
            rounds += 1
            try:
                async with asyncio.timeout(0.0005 if rounds % 3 else None):
                    got.append((await sel.select_async(timeout=WAIT))[1])
            except TimeoutError:
                continue
            except mpsc.RecvError as gone:
                sel.remove(gone.index)  # type: ignore[arg-type]
        await producer
        assert sorted(got) == sorted([("p", i) for i in range(count)] + [("t", i) for i in range(count)])

    asyncio.run(asyncio.wait_for(main(), 60))


def test_select_async_with_a_process_channel_is_refused_under_trio() -> None:
    trio = pytest.importorskip("trio")
    ptx, prx = mpp.channel()
    ttx, trx = mpsc.channel()

    async def main() -> None:
        with pytest.raises(RuntimeError, match="asyncio only"):
            await mpsc.select_async(trx, prx, timeout=WAIT)

    trio.run(main)
    ptx.send("intact")
    assert prx.recv_timeout(WAIT) == "intact"


# --- interrupts -----------------------------------------------------------------------------


@pytest.mark.parametrize("capacity", [None, 0, 8])
def test_interrupts_during_a_select_cost_no_message(procs: Children, capacity: int | None) -> None:
    """A signal handler raising every 0.2 ms in the selecting thread: a select that raised took
    nothing; one that returned (its exception raised after the return) took exactly its value."""
    count = 300 if capacity == 0 else 2000
    ptx, prx = process_channel(capacity)
    child = procs.start(children.produce, ptx, 0, count)
    ptx.close()
    ttx, trx = mpsc.sync_channel(2)
    producer = Worker(lambda: [ttx.send_timeout((1, i), WAIT) for i in range(count)] and ttx.close())
    got: list[Any] = []
    sel = mpsc.Select(prx, trx)
    with Interrupter(0.0002) as interrupts:
        while len(sel):
            try:
                interrupts.armed = True
                _index, value = sel.select(timeout=WAIT)
                interrupts.armed = False
                got.append(value)
                check_point()
            except Boom:
                continue
            except mpsc.RecvError as gone:
                interrupts.armed = False
                sel.remove(gone.index)  # type: ignore[arg-type]
    assert interrupts.booms > 0
    assert [v for v in got if v[0] == 0] == [(0, i) for i in range(count)]
    assert [v for v in got if v[0] == 1] == [(1, i) for i in range(count)]
    assert procs.join(child) == 0
    assert producer.done.wait(WAIT) and producer.error is None


def _selected_async(operation: Any, out: list[Any]) -> None:
    async def main() -> None:
        out.append(await mpsc.select_async(operation, timeout=WAIT))
        await asyncio.sleep(0)  # (the task's next check point: not asyncio's own code)

    asyncio.run(main())


SELECTS: dict[str, Callable[[Any, list[Any]], Any]] = {
    "select": lambda op, out: out.append(mpsc.select(op, timeout=WAIT)),
    "Select": lambda op, out: out.append(mpsc.Select(op).select(WAIT)),
    "select_async": _selected_async,
    # A call with *args goes through C on 3.11 (not on 3.13): CPython checks for exceptions as
    # it returns, in the caller, before the caller stores the result (DESIGN §4.7).
    "select(*ops)": lambda op, out: out.append(mpsc.select(*[op], timeout=WAIT)),
}
_MPSC_DIR = os.path.dirname(mpsc.__file__) + os.sep


@pytest.mark.usefixtures("select_pass")
@pytest.mark.parametrize("how", list(SELECTS))
@pytest.mark.parametrize("kind", ["send", "receive"])
@pytest.mark.parametrize("capacity", [None, 2])
def test_two_interrupts_anywhere_in_a_select_neither_lose_nor_duplicate(
    capacity: int | None, kind: str, how: str
) -> None:
    """Process review 2, finding 01: two interrupts at every pair of check points of a select
    over a process channel (the second may land while mpsc handles the first). The value is
    sent or received exactly once: by the select, whose result the caller has stored, or not at
    all, and then it is where it was. The review's count of lost and duplicated values came from
    ``mpsc.select(*ops)`` on 3.11, where the exception armed for after the return lands as the
    call returns through C: there, every such exception must be raised outside mpsc's frames
    (the select had returned its result)."""

    def scene(n: int, m: int) -> int:
        tx, rx = process_channel(capacity)
        if kind == "send":
            operation: Any = (tx, "v")
        else:
            tx.send("v")
            operation = rx
        out: list[Any] = []
        injector = SignalInjector(n, m)
        gc.disable()  # no finalizer of an earlier run's garbage inside this call
        try:
            _, exc = quietly(injector, lambda: SELECTS[how](operation, out))
        finally:
            gc.enable()
        where = injector.where
        left = drained(rx)
        assert exc is None or isinstance(exc, Injected), (n, m, where, exc)
        if injector.fired:  # raised inside the call or right after it: never swallowed
            assert exc is injector.raised[-1], (n, m, where, exc)
        assert [index for index, _ in out] == [0] * len(out) and len(out) <= 1, (n, m, where, out)
        if kind == "send":
            consistent = left == ["v"] * len(out)
        else:
            consistent = sorted(left + [value for _, value in out]) == ["v"]
        if not consistent and how == "select(*ops)" and exc is not None:
            frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.name != "_handler"]
            assert not frames[-1].filename.startswith(_MPSC_DIR), (n, m, where, frames[-3:])
            consistent = (len(left) == 1) == (kind == "send")  # happened, then the window
        assert consistent, (n, m, where, out, left, exc)
        assert not tx._ep.busy and not rx._ep.busy, (n, m, where)
        tx.close()
        rx.close()
        return len(injector.raised)

    assert every_two_points(scene) > 50


def test_the_thread_keeps_one_pipe_for_its_selects() -> None:
    """The waiter that watches fds is kept for the thread's next select: no fd is leaked per
    select, however many there are."""
    ptx, prx = mpp.channel()
    ttx, trx = mpsc.channel()
    with pytest.raises(mpsc.Timeout):
        mpsc.select(trx, prx, timeout=0.001)
    before = len(os.listdir("/proc/self/fd"))
    for _ in range(200):
        with pytest.raises(mpsc.Timeout):
            mpsc.select(trx, prx, timeout=0.0005)
    later(0.01, ttx.send, 1)
    assert mpsc.select(trx, prx, timeout=WAIT) == (0, 1)
    assert len(os.listdir("/proc/self/fd")) == before


def test_a_select_watching_fds_looks_without_sleeping_first(monkeypatch: pytest.MonkeyPatch) -> None:
    """A select waiting on process channels first looks at their fds (and at its own wake-up
    pipe) without sleeping for up to ``SPIN``, as a blocked call on one channel does: an fd
    ready, or a thread channel's hand-off, within that time costs no sleep."""
    import select as select_module

    from helpers import polls_counted

    from mpsc import _waiters

    timeouts = polls_counted(monkeypatch, _waiters)
    waiter = _waiters.PollWaiter()
    r, w = os.pipe()
    try:
        waiter.watch.append((r, select_module.POLLIN))
        os.write(w, b"x")
        assert waiter.sleep(None) is False  # an fd is ready: not woken by a claimer
        assert timeouts == [0]
        os.read(r, 1)
        timeouts.clear()
        for _ in waiter.unpark:  # what a claimer does
            break
        assert waiter.sleep(None) is True
        assert timeouts == [0]
        timeouts.clear()
        assert waiter.sleep(time.monotonic() + 0.02) is False  # nothing: looks, then sleeps
        assert len(timeouts) >= 2 and all(t == 0 for t in timeouts[:-1]) and timeouts[-1] > 0, timeouts
    finally:
        os.close(r)
        os.close(w)
