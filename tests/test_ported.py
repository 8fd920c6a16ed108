"""Rust's own channel tests, ported to mpsc's thread API.

The sources are Rust std's ``library/std/tests/sync/{mpsc,mpsc_sync,mpmc}.rs`` and
crossbeam-channel's ``tests/{array,list,zero,iter,mpsc}.rs``; each test names the one it ports.
Rust's ``drop(handle)`` is ``close()`` here (or, where that is the point, letting the handle be
garbage-collected), a panicking ``unwrap()`` is a raised exception, and ``thread::spawn`` is
``mpsc.spawn`` (which moves handles in and closes them when the thread ends) or a test Worker.

Where the originals order threads with sleeps ("sleep 1000 ms, then send"), these wait for the
state the sleep was meant to produce — usually ``wait_until(lambda: blocked_receivers(rx) == 1)``
to know a peer is parked — or hand-shake over events and channels. Every blocking call is
bounded: ``*_timeout`` with ``WAIT``, ``within`` (a Worker joined with a timeout) for the plain
blocking methods, or a JoinHandle/Worker joined with a timeout. Threads started with
``mpsc.spawn`` are not daemons, so they only ever make bounded calls.
"""

from __future__ import annotations

import contextlib
import random
import sys
import threading
import time
import weakref
from typing import Any

import pytest
from helpers import WAIT, Worker, blocked_receivers, blocked_senders, recv_all, run_all, wait_until

import mpsc

# -- helpers ---------------------------------------------------------------------------------


def chan(cap: int | None) -> tuple[mpsc.Sender[Any], mpsc.Receiver[Any]]:
    """Rust std's constructors: ``channel()`` for None, ``sync_channel(cap)`` otherwise."""
    return mpsc.channel() if cap is None else mpsc.sync_channel(cap)


def cb(cap: int | None) -> tuple[mpsc.Sender[Any], mpsc.Receiver[Any]]:
    """crossbeam's constructors: ``unbounded()`` for None, ``bounded(cap)`` otherwise."""
    return mpsc.unbounded() if cap is None else mpsc.bounded(cap)


def flavour(cap: Any) -> str:
    return "unbounded" if cap is None else f"cap{cap}"


ALL = pytest.mark.parametrize("cap", [None, 1, 0], ids=flavour)
BUFFERED = pytest.mark.parametrize("cap", [None, 1], ids=flavour)
STD = pytest.mark.parametrize("cap", [None, 0], ids=flavour)  # mpsc.rs and mpsc_sync.rs


def within(fn: Any, *args: Any, timeout: float = WAIT) -> Any:
    """Call ``fn(*args)`` in a Worker and wait (bounded) for it: plain blocking calls stay bounded."""
    return Worker(fn, *args).join(timeout)


def send_until_disconnected(*senders: mpsc.Sender[Any]) -> int:
    """Send 1 through ``senders`` in turn until one raises SendError; return how many were sent."""
    deadline = time.monotonic() + WAIT
    sent = 0
    while time.monotonic() < deadline:
        for tx in senders:
            try:
                tx.send_timeout(1, WAIT)
            except mpsc.SendError as exc:
                if exc.value != 1:
                    raise AssertionError(f"SendError carries {exc.value!r}, not the value sent")
                return sent
            sent += 1
    raise AssertionError("sends kept succeeding although the receiver had gone")


def nothing(*handles: Any) -> None:
    """A thread body that only drops the handles ``spawn`` moved into it."""


class Tracked:
    """A message whose release is observable (Rust's ``Rc``/``DropCounter``)."""

    __slots__ = ("__weakref__", "drops")

    def __init__(self, drops: list[int] | None = None) -> None:
        self.drops = drops

    def __del__(self) -> None:
        if self.drops is not None:
            self.drops.append(1)  # list.append is atomic, also on free-threaded builds


# -- std mpsc.rs / mpsc_sync.rs / mpmc.rs: smoke --------------------------------------------


@BUFFERED
def test_smoke(cap: int | None) -> None:
    tx, rx = chan(cap)
    tx.send(1)
    assert rx.recv() == 1


@BUFFERED
def test_smoke_shared(cap: int | None) -> None:
    tx, rx = chan(cap)
    tx.send(1)
    assert rx.recv() == 1
    tx2 = tx.clone()
    assert tx2.same_channel(tx)
    tx2.send(1)
    assert rx.recv() == 1


@ALL
def test_smoke_threads(cap: int | None) -> None:
    tx, rx = chan(cap)
    handle = mpsc.spawn(lambda tx: tx.send_timeout(1, WAIT), tx)
    assert rx.recv_timeout(WAIT) == 1
    handle.join(WAIT)
    # The moved Sender was closed when the thread ended.
    with pytest.raises(mpsc.RecvError):
        rx.recv_timeout(WAIT)


@ALL
def test_smoke_threads_mpmc(cap: int | None) -> None:
    # mpmc.rs: a sender thread and a separate receiver thread, values 0 and 1.
    tx, rx = chan(cap)
    sender = mpsc.spawn(lambda tx: [tx.send_timeout(i, WAIT) for i in range(2)], tx)
    receiver = mpsc.spawn(lambda rx: [rx.recv_timeout(WAIT) for _ in range(2)], rx)
    sender.join(WAIT)
    assert receiver.join(WAIT) == [0, 1]


@ALL
def test_smoke_port_gone(cap: int | None) -> None:
    tx, rx = chan(cap)
    rx.close()
    with pytest.raises(mpsc.SendError) as info:
        within(tx.send, 1)
    assert info.value.value == 1


@ALL
def test_smoke_shared_port_gone2(cap: int | None) -> None:
    tx, rx = chan(cap)
    rx.close()
    tx2 = tx.clone()
    tx.close()
    with pytest.raises(mpsc.SendError) as info:
        within(tx2.send, 1)
    assert info.value.value == 1


@ALL
def test_port_gone_concurrent(cap: int | None) -> None:
    tx, rx = chan(cap)
    receiver = mpsc.spawn(lambda rx: rx.recv_timeout(WAIT), rx)
    assert send_until_disconnected(tx) >= 1
    assert receiver.join(WAIT) == 1


@ALL
def test_port_gone_concurrent_shared(cap: int | None) -> None:
    tx, rx = chan(cap)
    tx2 = tx.clone()
    receiver = mpsc.spawn(lambda rx: rx.recv_timeout(WAIT), rx)
    assert send_until_disconnected(tx, tx2) >= 1
    assert receiver.join(WAIT) == 1


@ALL
def test_smoke_chan_gone(cap: int | None) -> None:
    tx, rx = chan(cap)
    tx.close()
    with pytest.raises(mpsc.RecvError):
        within(rx.recv)


@ALL
def test_smoke_chan_gone_shared(cap: int | None) -> None:
    tx, rx = chan(cap)
    tx2 = tx.clone()
    tx.close()
    tx2.close()
    with pytest.raises(mpsc.RecvError):
        within(rx.recv)


@ALL
def test_chan_gone_concurrent(cap: int | None) -> None:
    tx, rx = chan(cap)

    def send_two(tx: mpsc.Sender[int]) -> None:
        tx.send_timeout(1, WAIT)
        tx.send_timeout(1, WAIT)

    handle = mpsc.spawn(send_two, tx)
    assert recv_all(rx) == [1, 1]
    handle.join(WAIT)


# -- std: stress ------------------------------------------------------------------------------


@ALL
def test_stress(cap: int | None) -> None:
    n = 10_000
    tx, rx = chan(cap)

    def send_ones(tx: mpsc.Sender[int]) -> None:
        for _ in range(n):
            tx.send_timeout(1, WAIT)

    handle = mpsc.spawn(send_ones, tx)
    got = [rx.recv_timeout(WAIT) for _ in range(n)]
    handle.join(WAIT)
    assert got == [1] * n
    with pytest.raises(mpsc.RecvError):
        rx.recv_timeout(WAIT)


@pytest.mark.parametrize(
    ("cap", "n"), [(None, 10_000), (1, 1000), (0, 1000)], ids=["unbounded", "cap1", "cap0"]
)
def test_stress_shared(cap: int | None, n: int) -> None:
    # 8 senders x n; a receiver thread takes exactly 8n, after which try_recv must fail.
    tx, rx = chan(cap)

    def receive(rx: mpsc.Receiver[int]) -> tuple[int, bool]:
        total = sum(rx.recv_timeout(WAIT) for _ in range(8 * n))
        try:
            rx.try_recv()
        except mpsc.TryRecvError:
            return total, False
        return total, True

    def send_n(tx: mpsc.Sender[int]) -> None:
        for _ in range(n):
            tx.send_timeout(1, WAIT)

    receiver = mpsc.spawn(receive, rx)
    senders = [mpsc.spawn(send_n, tx.clone()) for _ in range(8)]
    tx.close()
    assert receiver.join(WAIT * 3) == (8 * n, False)
    for handle in senders:
        handle.join(WAIT)


@STD
def test_shared_chan_stress(cap: int | None) -> None:
    tx, rx = chan(cap)
    handles = [mpsc.spawn(lambda tx: tx.send_timeout(1, WAIT), tx.clone()) for _ in range(101)]
    tx.close()
    assert recv_all(rx) == [1] * 101
    for handle in handles:
        handle.join(WAIT)


@STD
def test_recv_from_outside_runtime(cap: int | None) -> None:
    tx, rx = chan(cap)
    receiver = mpsc.spawn(lambda rx: [rx.recv_timeout(WAIT) for _ in range(40)], rx)
    for _ in range(40):
        tx.send_timeout(1, WAIT)
    assert receiver.join(WAIT) == [1] * 40


@STD
def test_send_from_outside_runtime(cap: int | None) -> None:
    ready_tx, ready_rx = chan(cap)
    tx, rx = chan(cap)

    def expect_forty(ready_tx: mpsc.Sender[int], rx: mpsc.Receiver[int]) -> list[int]:
        ready_tx.send_timeout(1, WAIT)
        return [rx.recv_timeout(WAIT) for _ in range(40)]

    def send_forty(tx: mpsc.Sender[int]) -> None:
        for _ in range(40):
            tx.send_timeout(1, WAIT)

    receiver = mpsc.spawn(expect_forty, ready_tx, rx)
    assert ready_rx.recv_timeout(WAIT) == 1
    sender = mpsc.spawn(send_forty, tx)
    assert receiver.join(WAIT) == [1] * 40
    sender.join(WAIT)


@STD
def test_no_runtime(cap: int | None) -> None:
    # Two threads ping-pong over two channels, neither of them the test's thread.
    tx1, rx1 = chan(cap)
    tx2, rx2 = chan(cap)

    def ponger(rx1: mpsc.Receiver[int], tx2: mpsc.Sender[int]) -> int:
        got = rx1.recv_timeout(WAIT)
        tx2.send_timeout(2, WAIT)
        return got

    def pinger(tx1: mpsc.Sender[int], rx2: mpsc.Receiver[int]) -> int:
        tx1.send_timeout(1, WAIT)
        return rx2.recv_timeout(WAIT)

    pong = mpsc.spawn(ponger, rx1, tx2)
    ping = mpsc.spawn(pinger, tx1, rx2)
    assert pong.join(WAIT) == 1
    assert ping.join(WAIT) == 2


# -- std: timeouts ----------------------------------------------------------------------------


@BUFFERED
def test_recv_timeout(cap: int | None) -> None:
    # mpsc_sync.rs recv_timeout.
    tx, rx = chan(cap)
    with pytest.raises(mpsc.Timeout):
        rx.recv_timeout(0.001)
    tx.send(1)
    assert rx.recv_timeout(0.001) == 1


@BUFFERED
def test_oneshot_single_thread_recv_timeout(cap: int | None) -> None:
    tx, rx = chan(cap)
    tx.send(True)
    assert rx.recv_timeout(0.001) is True
    with pytest.raises(mpsc.Timeout):
        rx.recv_timeout(0.001)
    tx.send(True)
    assert rx.recv_timeout(0.001) is True


def test_send_timeout_sync() -> None:
    # mpsc_sync.rs send_timeout: the second send finds the one slot taken and times out.
    tx, rx = chan(1)
    tx.send_timeout(1, 0.001)
    with pytest.raises(mpsc.Timeout) as info:
        tx.send_timeout(1, 0.001)
    assert info.value.value == 1
    assert isinstance(info.value, mpsc.SendTimeoutError)
    assert isinstance(info.value, TimeoutError)
    assert len(rx) == 1


@ALL
def test_recv_timeout_upgrade(cap: int | None) -> None:
    tx, rx = chan(cap)
    tx2 = tx.clone()
    start = time.monotonic()
    with pytest.raises(mpsc.Timeout):
        rx.recv_timeout(0.05)
    assert time.monotonic() - start >= 0.05
    assert not tx2.is_disconnected()


@ALL
def test_stress_recv_timeout_two_threads(cap: int | None) -> None:
    # The original sleeps 10 ms before every even-indexed send so that the receiver's 5 ms
    # timeouts fire in between. Here the sender waits until the receiver has really timed out.
    n = 51
    tx, rx = chan(cap)
    timeouts = threading.Semaphore(0)

    def paced_sender(tx: mpsc.Sender[int]) -> None:
        for i in range(n):
            if i % 2 == 0:
                assert timeouts.acquire(timeout=WAIT), "the receiver never timed out"
            tx.send_timeout(i, WAIT)

    handle = mpsc.spawn(paced_sender, tx)
    got: list[int] = []
    timed_out = 0
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        try:
            got.append(rx.recv_timeout(0.002))
        except mpsc.Timeout:
            timed_out += 1
            timeouts.release()
        except mpsc.RecvError:
            break
    handle.join(WAIT)
    assert got == list(range(n))
    assert timed_out >= (n + 1) // 2


@ALL
def test_stress_recv_timeout_two_threads_sync(cap: int | None) -> None:
    # mpsc_sync.rs: a fast sender against a receiver looping on a 1 ms recv_timeout.
    n = 5000
    tx, rx = chan(cap)

    def send_all(tx: mpsc.Sender[int]) -> None:
        for i in range(n):
            tx.send_timeout(i, WAIT)

    handle = mpsc.spawn(send_all, tx)
    got: list[int] = []
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        try:
            got.append(rx.recv_timeout(0.001))
        except mpsc.Timeout:
            continue
        except mpsc.RecvError:
            break
    handle.join(WAIT)
    assert got == list(range(n))


@ALL
def test_stress_recv_timeout_shared(cap: int | None) -> None:
    # The original staggers 101 senders by sleeping i x 10 ms. Here each receiver timeout
    # releases one more sender, so timeouts and arrivals interleave by construction.
    n = 101
    tx, rx = chan(cap)
    go = threading.Semaphore(0)

    def released_sender(tx: mpsc.Sender[int], i: int) -> None:
        assert go.acquire(timeout=WAIT), "never released"
        tx.send_timeout(i, WAIT)

    handles = [mpsc.spawn(released_sender, tx.clone(), i) for i in range(n)]
    tx.close()
    got: list[int] = []
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        try:
            got.append(rx.recv_timeout(0.002))
        except mpsc.Timeout:
            go.release()
        except mpsc.RecvError:
            break
    for handle in handles:
        handle.join(WAIT)
    assert sorted(got) == list(range(n))


def test_stress_recv_timeout_shared_sync() -> None:
    # mpsc_sync.rs: capacity 0, 8 senders x 1000, a receiver thread on a 10 ms recv_timeout
    # loop; it counts 8000, finds try_recv failing, and reports over a rendezvous channel.
    tx, rx = chan(0)
    done_tx, done_rx = chan(0)

    def receive(rx: mpsc.Receiver[int], done_tx: mpsc.Sender[tuple[int, bool]]) -> None:
        count = 0
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            try:
                rx.recv_timeout(0.01)
            except mpsc.Timeout:
                continue
            except mpsc.RecvError:
                break
            count += 1
        try:
            rx.try_recv()
        except mpsc.TryRecvError:
            done_tx.send_timeout((count, False), WAIT)
        else:
            done_tx.send_timeout((count, True), WAIT)

    def send_thousand(tx: mpsc.Sender[int]) -> None:
        for _ in range(1000):
            tx.send_timeout(1, WAIT)

    receiver = mpsc.spawn(receive, rx, done_tx)
    senders = [mpsc.spawn(send_thousand, tx.clone()) for _ in range(8)]
    tx.close()
    assert done_rx.recv_timeout(WAIT * 3) == (8000, False)
    receiver.join(WAIT)
    for handle in senders:
        handle.join(WAIT)


HUGE_TIMEOUTS = [1e300, 2**200, 10**400, float("inf"), sys.float_info.max, threading.TIMEOUT_MAX]


HUGE_IDS = ["1e300", "2**200", "10**400", "inf", "float_max", "TIMEOUT_MAX"]


@pytest.mark.parametrize("timeout", HUGE_TIMEOUTS, ids=HUGE_IDS)
@STD
def test_very_long_recv_timeout_wont_panic(cap: int | None, timeout: float) -> None:
    tx, rx = chan(cap)
    receiver = Worker(rx.recv_timeout, timeout)
    wait_until(lambda: blocked_receivers(rx) == 1 or receiver.done.is_set())
    if receiver.done.is_set():
        receiver.join()  # re-raises what went wrong (an OverflowError, say)
        raise AssertionError("recv_timeout with a huge timeout returned without a message")
    tx.send_timeout("late", WAIT)
    assert receiver.join() == "late"


@pytest.mark.parametrize("timeout", HUGE_TIMEOUTS, ids=HUGE_IDS)
@pytest.mark.parametrize("cap", [1, 0], ids=flavour)
def test_very_long_send_timeout_wont_panic(cap: int, timeout: float) -> None:
    tx, rx = chan(cap)
    if cap:
        tx.send("first")
    sender = Worker(tx.send_timeout, "late", timeout)
    wait_until(lambda: blocked_senders(tx) == 1 or sender.done.is_set())
    if sender.done.is_set():
        sender.join()
        raise AssertionError("send_timeout with a huge timeout returned on a full channel")
    got = [rx.recv_timeout(WAIT) for _ in range(cap + 1)]
    sender.join()
    assert got[-1] == "late"


@pytest.mark.parametrize("cap", [None, 10_000], ids=flavour)
def test_recv_a_lot(cap: int | None) -> None:
    # Both flavours take 10 000 sends without a receiver running.
    n = 10_000
    tx, rx = chan(cap)
    within(lambda: [tx.send(i) for i in range(n)])
    assert len(rx) == n
    assert [rx.recv() for _ in range(n)] == list(range(n))


@BUFFERED
def test_shared_recv_timeout(cap: int | None) -> None:
    tx, rx = chan(cap)
    handles = [mpsc.spawn(lambda tx: tx.send_timeout(1, WAIT), tx.clone()) for _ in range(5)]
    assert [rx.recv_timeout(WAIT) for _ in range(5)] == [1] * 5
    for handle in handles:
        handle.join(WAIT)
    with pytest.raises(mpsc.Timeout):  # the clones are gone, but tx is not
        rx.recv_timeout(0.001)
    tx.send(2)
    assert rx.recv_timeout(0.001) == 2


def test_issue_39364() -> None:
    # A thread clones and drops a clone of the Sender while the receiver waits with a timeout:
    # that must not read as a disconnection (the original sleeps 300 ms; here the thread waits
    # until the receiver is parked).
    tx, rx = chan(None)
    keep = tx.clone()

    def clone_and_drop(tx: mpsc.Sender[int]) -> None:
        wait_until(lambda: blocked_receivers(tx) == 1)
        tx.clone().close()

    handle = mpsc.spawn(clone_and_drop, tx)
    deadline = time.monotonic() + WAIT
    while not handle.is_finished() and time.monotonic() < deadline:
        with pytest.raises(mpsc.Timeout):
            rx.recv_timeout(0.05)
    handle.join(WAIT)
    with pytest.raises(mpsc.Timeout):
        rx.recv_timeout(0.05)
    assert not keep.is_disconnected()


# -- std / crossbeam iter.rs: iteration -------------------------------------------------------


@STD
def test_nested_recv_iter(cap: int | None) -> None:
    tx, rx = chan(cap)
    total_tx, total_rx = chan(cap)

    def sum_all(rx: mpsc.Receiver[int], total_tx: mpsc.Sender[int]) -> None:
        with rx, total_tx:
            acc = 0
            for x in rx:
                acc += x
            total_tx.send_timeout(acc, WAIT)

    worker = Worker(sum_all, rx, total_tx)
    for value in (3, 1, 2):
        tx.send_timeout(value, WAIT)
    tx.close()
    assert total_rx.recv_timeout(WAIT) == 6
    worker.join()


@STD
def test_recv_iter_break(cap: int | None) -> None:
    tx, rx = chan(cap)
    count_tx, count_rx = chan(cap)

    def count_until_three(rx: mpsc.Receiver[int], count_tx: mpsc.Sender[int]) -> None:
        with rx, count_tx:
            count = 0
            for x in rx:
                if count >= 3:
                    break
                count += x
            count_tx.send_timeout(count, WAIT)

    worker = Worker(count_until_three, rx, count_tx)
    for _ in range(3):
        tx.send_timeout(2, WAIT)
    with contextlib.suppress(mpsc.TrySendError):
        tx.try_send(2)  # may or may not find the receiver still there
    assert count_rx.recv_timeout(WAIT) == 4
    worker.join()


@ALL
def test_recv_try_iter(cap: int | None) -> None:
    # A requester drains responses with try_iter until it has 6, asking for more each round;
    # the responder answers every request with 2 until its send fails.
    request_tx, request_rx = chan(None)
    response_tx, response_rx = chan(cap)

    def requester(request_tx: mpsc.Sender[None], response_rx: mpsc.Receiver[int]) -> int:
        count = 0
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            for x in response_rx.try_iter():
                count += x
                if count == 6:
                    return count
            request_tx.send(None)
        raise AssertionError("too slow")

    handle = mpsc.spawn(requester, request_tx, response_rx)
    while True:
        try:
            request_rx.recv_timeout(WAIT)
            response_tx.send_timeout(2, WAIT)
        except (mpsc.RecvError, mpsc.SendError):
            break
    assert handle.join(WAIT) == 6


@pytest.mark.parametrize("cap", [None, 2], ids=flavour)
def test_recv_into_iter(cap: int | None) -> None:
    # test_recv_into_iter_owned / _borrowed: iteration ends after the buffered messages.
    tx, rx = chan(cap)
    tx.send(1)
    tx.send(2)
    tx.close()
    it = iter(rx)
    assert next(it) == 1
    assert next(it) == 2
    with pytest.raises(StopIteration):
        within(next, it)
    with pytest.raises(StopIteration):
        within(next, it)
    assert within(list, rx) == []


@BUFFERED
def test_try_recv_states(cap: int | None) -> None:
    tx1, rx1 = chan(cap)
    tx2, rx2 = chan(cap)
    tx3, rx3 = chan(cap)

    def peer(tx1: mpsc.Sender[int], rx2: mpsc.Receiver[None], tx3: mpsc.Sender[None]) -> None:
        rx2.recv_timeout(WAIT)
        tx1.send_timeout(1, WAIT)
        tx3.send_timeout(None, WAIT)
        rx2.recv_timeout(WAIT)
        tx1.close()
        tx3.send_timeout(None, WAIT)

    handle = mpsc.spawn(peer, tx1, rx2, tx3)
    with pytest.raises(mpsc.Empty):
        rx1.try_recv()
    tx2.send(None)
    rx3.recv_timeout(WAIT)
    assert rx1.try_recv() == 1
    with pytest.raises(mpsc.Empty):
        rx1.try_recv()
    tx2.send(None)
    rx3.recv_timeout(WAIT)
    with pytest.raises(mpsc.RecvError):
        rx1.try_recv()
    handle.join(WAIT)


@ALL
def test_issue_32114(cap: int | None) -> None:
    # ``let (tx, _) = channel()``: the Receiver is dropped at once (here: garbage-collected).
    tx = chan(cap)[0]
    for _ in range(2):
        with pytest.raises(mpsc.SendError) as info:
            within(tx.send, 123)
        assert info.value.value == 123


@STD
def test_destroy_upgraded_shared_port_when_sender_still_active(cap: int | None) -> None:
    tx, rx = chan(cap)
    tx2, rx2 = chan(cap)

    def receive_once_then_drop(rx: mpsc.Receiver[None], tx2: mpsc.Sender[None]) -> None:
        rx.recv_timeout(WAIT)
        rx.close()
        tx2.send_timeout(None, WAIT)

    handle = mpsc.spawn(receive_once_then_drop, rx, tx2)
    wait_until(lambda: blocked_receivers(tx) == 1)  # the original yields 5000 times
    tx3 = tx.clone()
    tx.close()
    tx3.send_timeout(None, WAIT)
    rx2.recv_timeout(WAIT)
    handle.join(WAIT)
    with pytest.raises(mpsc.SendError):
        tx3.send_timeout(None, WAIT)


# -- std: oneshot_* ---------------------------------------------------------------------------


@ALL
def test_oneshot_single_thread_close_port_first(cap: int | None) -> None:
    tx, rx = chan(cap)
    rx.close()
    assert tx.is_disconnected()
    tx.close()


@ALL
def test_oneshot_single_thread_close_chan_first(cap: int | None) -> None:
    tx, rx = chan(cap)
    tx.close()
    assert rx.is_disconnected()
    rx.close()


@ALL
def test_oneshot_single_thread_send_port_close(cap: int | None) -> None:
    tx, rx = chan(cap)
    rx.close()
    payload = [10]
    with pytest.raises(mpsc.SendError) as info:
        within(tx.send, payload)
    assert info.value.value is payload


@ALL
def test_oneshot_single_thread_recv_chan_close(cap: int | None) -> None:
    tx, rx = chan(cap)
    tx.close()
    handle = mpsc.spawn(lambda rx: rx.recv_timeout(WAIT), rx)
    with pytest.raises(mpsc.RecvError):
        handle.join(WAIT)


@BUFFERED
def test_oneshot_single_thread_send_then_recv(cap: int | None) -> None:
    tx, rx = chan(cap)
    tx.send([10])
    assert rx.recv() == [10]


@BUFFERED
def test_oneshot_single_thread_try_send_open(cap: int | None) -> None:
    tx, rx = chan(cap)
    tx.try_send(10)
    assert rx.recv() == 10


@ALL
def test_oneshot_single_thread_try_send_closed(cap: int | None) -> None:
    tx, rx = chan(cap)
    rx.close()
    with pytest.raises(mpsc.SendError) as info:
        tx.try_send(10)
    assert info.value.value == 10
    assert isinstance(info.value, mpsc.TrySendError)
    assert not isinstance(info.value, mpsc.Full)


@pytest.mark.parametrize("cap", [1, 0], ids=flavour)
def test_oneshot_single_thread_try_send_closed2(cap: int) -> None:
    # The receiver is alive but not waiting (and, buffered, the buffer is full): Full(10).
    tx, rx = chan(cap)
    for i in range(cap):
        tx.try_send(i)
    with pytest.raises(mpsc.Full) as info:
        tx.try_send(10)
    assert info.value.value == 10
    assert isinstance(info.value, mpsc.TrySendError)
    assert len(rx) == cap
    assert list(rx.try_iter()) == list(range(cap))


@BUFFERED
def test_oneshot_single_thread_try_recv_open(cap: int | None) -> None:
    tx, rx = chan(cap)
    tx.send(10)
    assert rx.try_recv() == 10


@ALL
def test_oneshot_single_thread_try_recv_closed(cap: int | None) -> None:
    tx, rx = chan(cap)
    tx.close()
    with pytest.raises(mpsc.RecvError):
        within(rx.recv)


@BUFFERED
def test_oneshot_single_thread_try_recv_closed_with_data(cap: int | None) -> None:
    tx, rx = chan(cap)
    tx.send(10)
    tx.close()
    assert rx.try_recv() == 10
    with pytest.raises(mpsc.RecvError):
        rx.try_recv()


@BUFFERED
def test_oneshot_single_thread_peek_data(cap: int | None) -> None:
    tx, rx = chan(cap)
    with pytest.raises(mpsc.Empty):
        rx.try_recv()
    tx.send(10)
    assert rx.try_recv() == 10


@ALL
def test_oneshot_single_thread_peek_close(cap: int | None) -> None:
    tx, rx = chan(cap)
    tx.close()
    with pytest.raises(mpsc.RecvError):
        rx.try_recv()
    with pytest.raises(mpsc.RecvError):
        rx.try_recv()


@ALL
def test_oneshot_single_thread_peek_open(cap: int | None) -> None:
    tx, rx = chan(cap)
    with pytest.raises(mpsc.Empty):
        rx.try_recv()
    assert not rx.is_disconnected()
    tx.close()


@STD
def test_oneshot_multi_task_recv_then_send(cap: int | None) -> None:
    tx, rx = chan(cap)
    receiver = mpsc.spawn(lambda rx: rx.recv_timeout(WAIT), rx)
    tx.send_timeout([10], WAIT)
    assert receiver.join(WAIT) == [10]


@STD
def test_oneshot_multi_task_recv_then_close(cap: int | None) -> None:
    tx, rx = chan(cap)
    closer = mpsc.spawn(nothing, tx)
    receiver = Worker(rx.recv)
    closer.join(WAIT)
    with pytest.raises(mpsc.RecvError):
        receiver.join()


ROUNDS = 50


@STD
def test_oneshot_multi_thread_close_stress(cap: int | None) -> None:
    for _ in range(ROUNDS):
        tx, rx = chan(cap)
        core = tx._chan  # white-box: both ends' counts must reach zero despite the race
        closer = mpsc.spawn(nothing, rx)
        tx.close()
        closer.join(WAIT)
        assert (core.senders, core.receivers, core.tx_gone, core.rx_gone) == (0, 0, True, True)


@STD
def test_oneshot_multi_thread_send_close_stress(cap: int | None) -> None:
    outcomes = set()
    for _ in range(ROUNDS):
        tx, rx = chan(cap)
        closer = mpsc.spawn(nothing, rx)
        sender = mpsc.spawn(lambda tx: tx.send_timeout(1, WAIT), tx)
        closer.join(WAIT)
        try:
            sender.join(WAIT)
        except mpsc.SendError as exc:
            outcomes.add(("disconnected", exc.value))
        else:
            outcomes.add(("sent", 1))
    assert outcomes <= {("disconnected", 1), ("sent", 1)}
    if cap == 0:  # nobody ever receives, so a rendezvous send can only fail
        assert outcomes == {("disconnected", 1)}


def _recv_in_nested_thread(rx: mpsc.Receiver[int]) -> str:
    inner = mpsc.spawn(lambda rx: rx.recv_timeout(WAIT), rx)
    try:
        inner.join(WAIT)
    except mpsc.RecvError:
        return "disconnected"
    return "received"


@STD
def test_oneshot_multi_thread_recv_close_stress(cap: int | None) -> None:
    for _ in range(ROUNDS):
        tx, rx = chan(cap)
        receiver = mpsc.spawn(_recv_in_nested_thread, rx)
        closer = mpsc.spawn(lambda tx: mpsc.spawn(nothing, tx), tx)
        closer.join(WAIT).join(WAIT)
        assert receiver.join(WAIT) == "disconnected"


@STD
def test_oneshot_multi_thread_send_recv_stress(cap: int | None) -> None:
    for _ in range(ROUNDS):
        tx, rx = chan(cap)
        sender = mpsc.spawn(lambda tx: tx.send_timeout([10], WAIT), tx)
        assert rx.recv_timeout(WAIT) == [10]
        sender.join(WAIT)


def _send_chain(tx: mpsc.Sender[int], i: int) -> mpsc.JoinHandle[Any] | None:
    if i == 10:
        return None
    tx.send_timeout(i, WAIT)
    return mpsc.spawn(_send_chain, tx, i + 1)


def _recv_chain(rx: mpsc.Receiver[int], i: int) -> mpsc.JoinHandle[Any] | None:
    if i == 10:
        try:
            extra = rx.recv_timeout(WAIT)
        except mpsc.RecvError:  # the last sender thread has ended: the Sender was released
            return None
        raise AssertionError(f"received {extra!r} after the tenth message")
    got = rx.recv_timeout(WAIT)
    assert got == i, f"expected {i}, received {got}"
    return mpsc.spawn(_recv_chain, rx, i + 1)


@STD
def test_stream_send_recv_stress(cap: int | None) -> None:
    # Each handle is moved along a chain of 10 threads; FIFO holds across the moves.
    for _ in range(5):
        tx, rx = chan(cap)
        handles = [mpsc.spawn(_send_chain, tx, 0), mpsc.spawn(_recv_chain, rx, 0)]
        for handle in handles:
            link: mpsc.JoinHandle[Any] | None = handle
            while link is not None:
                link = link.join(WAIT)


# -- std mpsc_sync.rs: send1..send4, try_send1..3, issue_15761, drop_unreceived ---------------


def test_send1() -> None:
    tx, rx = chan(0)
    receiver = mpsc.spawn(lambda rx: rx.recv_timeout(WAIT), rx)
    within(tx.send, 1)
    assert receiver.join(WAIT) == 1


def test_send2() -> None:
    tx, rx = chan(0)
    mpsc.spawn(nothing, rx)
    with pytest.raises(mpsc.SendError) as info:
        within(tx.send, 1)
    assert info.value.value == 1


def test_send3() -> None:
    tx, rx = chan(1)
    tx.send(1)
    mpsc.spawn(nothing, rx)
    with pytest.raises(mpsc.SendError) as info:
        within(tx.send, 2)
    assert info.value.value == 2


def test_send4() -> None:
    # Two senders blocked on a rendezvous channel both fail once the receiver is dropped.
    tx, rx = chan(0)
    tx2 = tx.clone()
    done_tx, done_rx = chan(None)

    def blocked_send(tx: mpsc.Sender[int], value: int, done_tx: mpsc.Sender[int]) -> None:
        try:
            tx.send_timeout(value, WAIT)
        except mpsc.SendError as exc:
            done_tx.send(exc.value)

    handles = [
        mpsc.spawn(blocked_send, tx, 1, done_tx.clone()),
        mpsc.spawn(blocked_send, tx2, 2, done_tx.clone()),
    ]
    wait_until(lambda: blocked_senders(rx) == 2)
    rx.close()
    assert {done_rx.recv_timeout(WAIT), done_rx.recv_timeout(WAIT)} == {1, 2}
    for handle in handles:
        handle.join(WAIT)


def test_try_send1() -> None:
    tx, rx = chan(0)
    with pytest.raises(mpsc.Full) as info:
        tx.try_send(1)
    assert info.value.value == 1
    assert isinstance(info.value, mpsc.TrySendError)
    with pytest.raises(mpsc.Empty):
        rx.try_recv()


def test_try_send2() -> None:
    tx, rx = chan(1)
    tx.try_send(1)
    with pytest.raises(mpsc.Full) as info:
        tx.try_send(2)
    assert info.value.value == 2
    assert rx.try_recv() == 1


def test_try_send3() -> None:
    tx, rx = chan(1)
    tx.try_send(1)
    rx.close()
    with pytest.raises(mpsc.SendError) as info:
        tx.try_send(1)
    assert info.value.value == 1


def _recv_then_try_send(rx: mpsc.Receiver[None], tx: mpsc.Sender[None]) -> None:
    rx.recv_timeout(WAIT)
    tx.try_send(None)  # must succeed: there is room


def test_issue_15761() -> None:
    for _ in range(100):
        tx1, rx1 = chan(3)
        tx2, rx2 = chan(3)
        handle = mpsc.spawn(_recv_then_try_send, rx1, tx2)
        tx1.try_send(None)
        rx2.recv_timeout(WAIT)
        handle.join(WAIT)


@pytest.mark.parametrize("how", ["close", "with", "collect"])
@pytest.mark.parametrize("cap", [None, 1, 3], ids=flavour)
def test_drop_unreceived(cap: int | None, how: str) -> None:
    # A buffered message is released as soon as the last Receiver goes, while a Sender lives.
    tx, rx = chan(cap)
    msg = Tracked()
    ref = weakref.ref(msg)
    tx.send(msg)
    del msg
    assert ref() is not None
    if how == "close":
        rx.close()
    elif how == "with":
        with rx:
            pass
    else:
        del rx  # garbage-collected, as Rust drops it
    assert ref() is None
    assert tx.is_disconnected()


@pytest.mark.parametrize("how", ["close", "collect"])
@BUFFERED
def test_drop_full(cap: int | None, how: str) -> None:
    tx, rx = chan(cap)
    msg = Tracked()
    ref = weakref.ref(msg)
    tx.send(msg)
    del msg
    if how == "close":
        tx.close()
        assert ref() is not None  # still deliverable
        rx.close()
    else:
        del tx, rx
    assert ref() is None


@pytest.mark.parametrize("how", ["close", "collect"])
@BUFFERED
def test_drop_full_shared(cap: int | None, how: str) -> None:
    tx, rx = chan(cap)
    tx.clone().close()
    tx.clone()  # dropped (collected) at once
    msg = Tracked()
    ref = weakref.ref(msg)
    tx.send(msg)
    del msg
    assert len(rx) == 1
    if how == "close":
        tx.close()
        assert ref() is not None
        rx.close()
    else:
        del tx, rx
    assert ref() is None


# -- crossbeam array.rs / list.rs / zero.rs ----------------------------------------------------


def test_smoke_bounded() -> None:
    tx, rx = cb(1)
    tx.send(7)
    assert rx.try_recv() == 7
    tx.send(8)
    assert rx.recv() == 8
    with pytest.raises(mpsc.Empty):
        rx.try_recv()
    with pytest.raises(mpsc.Timeout):
        rx.recv_timeout(0.01)


def test_smoke_unbounded() -> None:
    tx, rx = cb(None)
    tx.try_send(7)
    assert rx.try_recv() == 7
    tx.send(8)
    assert rx.recv() == 8
    with pytest.raises(mpsc.Empty):
        rx.try_recv()
    with pytest.raises(mpsc.Timeout):
        rx.recv_timeout(0.01)


def test_smoke_zero() -> None:
    tx, rx = cb(0)
    with pytest.raises(mpsc.Full) as info:
        tx.try_send(7)
    assert info.value.value == 7
    with pytest.raises(mpsc.Empty):
        rx.try_recv()


def test_capacity() -> None:
    for i in range(10):
        for make in (mpsc.bounded, mpsc.sync_channel):
            tx, rx = make(i)
            assert tx.capacity == i
            assert rx.capacity == i
    for make_unbounded in (mpsc.unbounded, mpsc.channel):
        tx, rx = make_unbounded()
        assert tx.capacity is None
        assert rx.capacity is None


def _state(handle: mpsc.Sender[Any] | mpsc.Receiver[Any]) -> tuple[int, bool, bool]:
    return len(handle), handle.is_empty(), handle.is_full()


def test_len_empty_full_bounded() -> None:
    tx, rx = cb(2)
    assert _state(tx) == _state(rx) == (0, True, False)
    tx.send(())
    assert _state(tx) == _state(rx) == (1, False, False)
    tx.send(())
    assert _state(tx) == _state(rx) == (2, False, True)
    rx.recv()
    assert _state(tx) == _state(rx) == (1, False, False)


def test_len_empty_full_unbounded() -> None:
    tx, rx = cb(None)
    assert _state(tx) == _state(rx) == (0, True, False)
    tx.send(())
    assert _state(tx) == _state(rx) == (1, False, False)
    rx.recv()
    assert _state(tx) == _state(rx) == (0, True, False)


def test_len_empty_full_zero() -> None:
    # A rendezvous channel is always empty and always full, before and after a transfer.
    tx, rx = cb(0)
    assert _state(tx) == _state(rx) == (0, True, True)
    sender = Worker(tx.send, ())
    wait_until(lambda: blocked_senders(rx) == 1)
    assert _state(tx) == _state(rx) == (0, True, True)  # a sender waits, still nothing buffered
    rx.recv_timeout(WAIT)
    sender.join()
    assert _state(tx) == _state(rx) == (0, True, True)


def test_len_bounded() -> None:
    # array.rs len: exact lengths, then len() <= capacity while two threads move messages.
    cap = 1000
    tx, rx = cb(cap)
    for _ in range(20):
        for i in range(50):
            tx.send(i)
            assert len(tx) == i + 1
        for i in range(50):
            rx.recv()
            assert len(rx) == 50 - i - 1
    for i in range(cap):
        tx.send(i)
        assert len(tx) == i + 1
    assert tx.is_full()
    for i in range(cap):
        rx.recv()
        assert len(rx) == cap - i - 1
    n = 10_000

    def produce() -> None:
        for i in range(n):
            tx.send(i)
            assert len(tx) <= cap

    def consume() -> list[int]:
        got = []
        for _ in range(n):
            got.append(rx.recv())
            assert len(rx) <= cap
        return got

    _, got = run_all(produce, consume)
    assert got == list(range(n))
    assert len(tx) == len(rx) == 0


def test_len_zero() -> None:
    tx, rx = cb(0)
    n = 5000

    def produce() -> None:
        for i in range(n):
            tx.send(i)
            assert len(tx) == 0

    def consume() -> list[int]:
        got = []
        for _ in range(n):
            got.append(rx.recv())
            assert len(rx) == 0
        return got

    _, got = run_all(produce, consume)
    assert got == list(range(n))


@pytest.mark.parametrize("cap", [None, 1, 2], ids=flavour)
def test_recv_timeout_nonempty_expired(cap: int | None) -> None:
    # A message already there is returned even by recv_timeout(0).
    tx, rx = cb(cap)
    tx.send(5)
    assert rx.recv_timeout(0) == 5
    with pytest.raises(mpsc.Timeout):
        rx.recv_timeout(0)


def test_recv_timeout_zero_with_waiting_sender() -> None:
    # On a rendezvous channel, a sender already waiting is "a message already there".
    tx, rx = cb(0)
    sender = Worker(tx.send, 5)
    wait_until(lambda: blocked_senders(rx) == 1)
    assert rx.recv_timeout(0) == 5
    sender.join()
    with pytest.raises(mpsc.Timeout):
        rx.recv_timeout(0)


@pytest.mark.parametrize("cap", [None, 100, 0], ids=flavour)
def test_send_after_disconnect(cap: int | None) -> None:
    tx, rx = cb(cap)
    if cap != 0:
        for i in (1, 2, 3):
            tx.send(i)
    rx.close()
    with pytest.raises(mpsc.SendError) as info:
        within(tx.send, 4)
    assert info.value.value == 4
    with pytest.raises(mpsc.SendError) as info:
        tx.try_send(5)
    assert info.value.value == 5
    start = time.monotonic()
    with pytest.raises(mpsc.SendError) as info:
        tx.send_timeout(6, WAIT)
    assert info.value.value == 6
    assert time.monotonic() - start < WAIT / 2  # at once, not at the timeout
    with pytest.raises(mpsc.SendError) as info:
        tx.send_deadline(7, time.monotonic() + WAIT)
    assert info.value.value == 7
    assert tx.is_disconnected()


@pytest.mark.parametrize("cap", [None, 3, 100], ids=flavour)
def test_recv_after_disconnect(cap: int | None) -> None:
    tx, rx = cb(cap)
    for i in (1, 2, 3):
        tx.send(i)
    tx.close()
    assert rx.is_disconnected()
    assert [rx.recv(), rx.recv(), rx.recv()] == [1, 2, 3]
    with pytest.raises(mpsc.RecvError):
        within(rx.recv)
    with pytest.raises(mpsc.RecvError):
        rx.recv_timeout(WAIT)
    with pytest.raises(mpsc.RecvError):
        rx.try_recv()


@pytest.mark.parametrize("cap", [1, 0], ids=flavour)
def test_disconnect_wakes_sender(cap: int) -> None:
    tx, rx = cb(cap)
    if cap:
        tx.send("fills the buffer")
    sender = Worker(tx.send, "blocked")
    wait_until(lambda: blocked_senders(tx) == 1)
    rx.close()
    with pytest.raises(mpsc.SendError) as info:
        sender.join()
    assert info.value.value == "blocked"


@ALL
def test_disconnect_wakes_receiver(cap: int | None) -> None:
    tx, rx = cb(cap)
    receiver = Worker(rx.recv)
    wait_until(lambda: blocked_receivers(rx) == 1)
    tx.close()
    with pytest.raises(mpsc.RecvError):
        receiver.join()


@ALL
def test_try_recv_timeline(cap: int | None) -> None:
    # R: Empty; [S sends 7 and drops] -> Ok(7); -> Disconnected.
    tx, rx = cb(cap)
    with pytest.raises(mpsc.Empty):
        rx.try_recv()
    sender = mpsc.spawn(lambda tx: tx.send_timeout(7, WAIT), tx)
    wait_until(lambda: blocked_senders(rx) == 1 or sender.is_finished())
    assert rx.try_recv() == 7
    sender.join(WAIT)
    with pytest.raises(mpsc.RecvError):
        rx.try_recv()


def test_try_send_timeline_bounded() -> None:
    # array.rs try_send: Ok, Full(2); R takes 1, sees Empty, blocks in recv; Ok(3); R drops;
    # Disconnected(4).
    tx, rx = cb(1)
    tx.try_send(1)
    with pytest.raises(mpsc.Full) as info:
        tx.try_send(2)
    assert info.value.value == 2

    def receiver(rx: mpsc.Receiver[int]) -> tuple[int, bool, int]:
        first = rx.try_recv()
        try:
            rx.try_recv()
        except mpsc.Empty:
            was_empty = True
        else:
            was_empty = False
        return first, was_empty, rx.recv_timeout(WAIT)

    handle = mpsc.spawn(receiver, rx)
    wait_until(lambda: blocked_receivers(tx) == 1)
    tx.try_send(3)
    assert handle.join(WAIT) == (1, True, 3)
    with pytest.raises(mpsc.SendError) as info:
        tx.try_send(4)
    assert info.value.value == 4


def test_try_send_timeline_zero() -> None:
    # zero.rs try_send: Full(7); [R blocked in recv] -> Ok(8); [R dropped] -> Disconnected(9).
    tx, rx = cb(0)
    with pytest.raises(mpsc.Full) as info:
        tx.try_send(7)
    assert info.value.value == 7
    handle = mpsc.spawn(lambda rx: rx.recv_timeout(WAIT), rx)
    wait_until(lambda: blocked_receivers(tx) == 1)
    tx.try_send(8)
    assert handle.join(WAIT) == 8
    with pytest.raises(mpsc.SendError) as info:
        tx.try_send(9)
    assert info.value.value == 9


@pytest.mark.parametrize("cap", [None, 1, 3], ids=flavour)
def test_try_send_never_full_until_capacity(cap: int | None) -> None:
    # list.rs try_send (1000 x Ok, never Full) and its bounded counterpart.
    tx, rx = cb(cap)
    n = 1000 if cap is None else cap
    for i in range(n):
        tx.try_send(i)
    if cap is not None:
        with pytest.raises(mpsc.Full):
            tx.try_send(-1)
    assert list(rx.try_iter()) == list(range(n))
    rx.close()
    with pytest.raises(mpsc.SendError) as info:
        tx.try_send(777)
    assert info.value.value == 777


@ALL
def test_recv_timeline(cap: int | None) -> None:
    # R: recv()==7 (blocking), 8, 9, then Err; S: sends 7, 8, 9 once R waits, then drops.
    tx, rx = cb(cap)

    def receiver(rx: mpsc.Receiver[int]) -> list[Any]:
        got: list[Any] = [rx.recv_timeout(WAIT) for _ in range(3)]
        try:
            rx.recv_timeout(WAIT)
        except mpsc.RecvError:
            got.append("disconnected")
        return got

    handle = mpsc.spawn(receiver, rx)
    wait_until(lambda: blocked_receivers(tx) == 1)
    for value in (7, 8, 9):
        tx.send_timeout(value, WAIT)
    tx.close()
    assert handle.join(WAIT) == [7, 8, 9, "disconnected"]


@pytest.mark.parametrize("cap", [1, 0], ids=flavour)
def test_send_timeline(cap: int) -> None:
    # S: send 7, 8 (blocks until R frees room / arrives), 9, and with a buffer 10, which stays
    # buffered because R still exists. R: recv 7, 8, 9 once S is parked.
    tx, rx = cb(cap)

    def sender(tx: mpsc.Sender[int]) -> None:
        for value in (7, 8, 9):
            tx.send_timeout(value, WAIT)
        if cap:
            tx.send_timeout(10, WAIT)

    handle = mpsc.spawn(sender, tx)
    wait_until(lambda: blocked_senders(rx) == 1)
    assert [rx.recv_timeout(WAIT) for _ in range(3)] == [7, 8, 9]
    handle.join(WAIT)
    if cap:
        assert len(rx) == 1
        assert rx.try_recv() == 10
    with pytest.raises(mpsc.RecvError):
        rx.try_recv()


@ALL
def test_recv_timeout_timeline(cap: int | None) -> None:
    # Timeout; then Ok(7) from a sender that sends once R is parked; then Disconnected.
    tx, rx = cb(cap)
    start = time.monotonic()
    with pytest.raises(mpsc.Timeout):
        rx.recv_timeout(0.05)
    assert time.monotonic() - start >= 0.05

    def sender(tx: mpsc.Sender[int]) -> None:
        wait_until(lambda: blocked_receivers(tx) == 1)
        tx.send_timeout(7, WAIT)

    handle = mpsc.spawn(sender, tx)
    assert rx.recv_timeout(WAIT) == 7
    with pytest.raises(mpsc.RecvError):
        rx.recv_timeout(WAIT)
    handle.join(WAIT)


def test_send_timeout_timeline_zero() -> None:
    # zero.rs send_timeout: Timeout(7); Ok(8) once a receiver comes; Disconnected(9).
    tx, rx = cb(0)
    start = time.monotonic()
    with pytest.raises(mpsc.Timeout) as info:
        tx.send_timeout(7, 0.05)
    assert info.value.value == 7
    assert time.monotonic() - start >= 0.05
    # A sender waiting first is taken by a receiver that comes later ...
    sender = Worker(tx.send_timeout, 8, WAIT)
    wait_until(lambda: blocked_senders(rx) == 1)
    assert rx.recv_timeout(WAIT) == 8
    sender.join()
    # ... and a receiver waiting first takes a timed send at once.
    receiver = mpsc.spawn(lambda rx: rx.recv_timeout(WAIT), rx)
    wait_until(lambda: blocked_receivers(tx) == 1)
    tx.send_timeout(9, WAIT)
    assert receiver.join(WAIT) == 9
    with pytest.raises(mpsc.SendError) as info:
        tx.send_timeout(10, WAIT)
    assert info.value.value == 10


def test_send_timeout_timeline_bounded() -> None:
    # array.rs send_timeout, cap 2: Ok, Ok, Timeout(3); Ok(4) once room appears; Err(5).
    tx, rx = cb(2)
    tx.send_timeout(1, WAIT)
    tx.send_timeout(2, WAIT)
    with pytest.raises(mpsc.Timeout) as info:
        tx.send_timeout(3, 0.05)
    assert info.value.value == 3
    sender = Worker(tx.send_timeout, 4, WAIT)
    wait_until(lambda: blocked_senders(rx) == 1)
    assert rx.recv_timeout(WAIT) == 1
    sender.join()
    assert [rx.recv(), rx.recv()] == [2, 4]  # 3 timed out, so it was never enqueued
    rx.close()
    with pytest.raises(mpsc.SendError) as info:
        within(tx.send, 5)
    assert info.value.value == 5


def test_send_timeout_unbounded() -> None:
    # list.rs send_timeout: every timed send succeeds at once, a timeout of 0 included.
    tx, rx = cb(None)
    for i in range(1000):
        tx.send_timeout(i, i / 1000)
    assert list(rx.try_iter()) == list(range(1000))
    rx.close()
    with pytest.raises(mpsc.SendError) as info:
        tx.send_timeout(777, 0)
    assert info.value.value == 777


@pytest.mark.parametrize(
    ("cap", "n"), [(None, 100_000), (3, 100_000), (0, 25_000)], ids=["unbounded", "cap3", "cap0"]
)
def test_spsc(cap: int | None, n: int) -> None:
    tx, rx = cb(cap)

    def produce() -> None:
        with tx:
            for i in range(n):
                tx.send(i)

    def consume() -> tuple[bool, Any]:
        in_order = all(rx.recv() == i for i in range(n))
        try:
            extra = rx.recv()
        except mpsc.RecvError:
            return in_order, None
        return in_order, extra

    assert run_all(produce, consume)[1] == (True, None)


@pytest.mark.parametrize(
    ("cap", "n"), [(None, 25_000), (3, 25_000), (0, 10_000)], ids=["unbounded", "cap3", "cap0"]
)
def test_mpmc(cap: int | None, n: int) -> None:
    # 4 senders each send 0..n; 4 receivers each take n; every value arrives exactly 4 times.
    tx, rx = cb(cap)

    def produce() -> None:
        for i in range(n):
            tx.send(i)

    def consume() -> list[int]:
        seen = [0] * n
        for _ in range(n):
            seen[rx.recv()] += 1
        return seen

    results = run_all(*[produce] * 4, *[consume] * 4)
    totals = [sum(column) for column in zip(*results[4:], strict=True)]
    assert totals == [4] * n
    with pytest.raises(mpsc.Empty):
        rx.try_recv()


def _recv_one(rx: mpsc.Receiver[Any]) -> Any:
    return rx.recv_timeout(WAIT)


def _send_one(tx: mpsc.Sender[Any], value: Any) -> None:
    tx.send_timeout(value, WAIT)


@ALL
def test_stress_oneshot(cap: int | None) -> None:
    # A fresh channel per round, one thread receiving, one sending (alternating which is ours).
    for i in range(1000):
        tx, rx = cb(cap)
        if i % 2:
            receiver = Worker(_recv_one, rx)
            tx.send_timeout(i, WAIT)
            assert receiver.join() == i
        else:
            sender = Worker(_send_one, tx, i)
            assert rx.recv_timeout(WAIT) == i
            sender.join()


@ALL
def test_stress_iter(cap: int | None, request: pytest.FixtureRequest) -> None:
    # A requester drains responses with try_iter until it has `count`; the responder answers
    # each request with 1 until the requester is gone. On a rendezvous channel requests go out
    # with try_send (ignored if nobody waits), so the requester spins: switch threads often.
    count = 2000
    if cap == 0:
        request.getfixturevalue("fast_switching")
    request_tx, request_rx = cb(cap)
    response_tx, response_rx = cb(cap)

    def requester(request_tx: mpsc.Sender[None], response_rx: mpsc.Receiver[int]) -> int:
        total = 0
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            for x in response_rx.try_iter():
                total += x
                if total == count:
                    return total
            if cap == 0:
                with contextlib.suppress(mpsc.Full):
                    request_tx.try_send(None)
            else:
                request_tx.send_timeout(None, WAIT)
        raise AssertionError(f"only {total} responses in time")

    handle = mpsc.spawn(requester, request_tx, response_rx)
    while True:
        try:
            request_rx.recv_timeout(WAIT)
            response_tx.send_timeout(1, WAIT)
        except (mpsc.RecvError, mpsc.SendError):
            break
    assert handle.join(WAIT) == count


class Pacer:
    """Stands in for crossbeam's "sleep 50 ms before even indices" on both sides.

    A side pauses until its peer has timed out since (so timeouts really interleave with the
    transfers), or has paused or finished too (so two pausing sides never wait for each other).
    """

    def __init__(self) -> None:
        self.cond = threading.Condition()
        self.timeouts = [0, 0]
        self.pauses = [0, 0]
        self.finished = [False, False]

    def _progress(self, side: int) -> tuple[int, int, bool]:
        return self.timeouts[side], self.pauses[side], self.finished[side]

    def timed_out(self, side: int) -> None:
        with self.cond:
            self.timeouts[side] += 1
            self.cond.notify_all()

    def finish(self, side: int) -> None:
        with self.cond:
            self.finished[side] = True
            self.cond.notify_all()

    def pause(self, side: int) -> None:
        peer = 1 - side
        with self.cond:
            self.pauses[side] += 1
            self.cond.notify_all()
            before = self._progress(peer)
            ok = self.cond.wait_for(lambda: self.finished[peer] or self._progress(peer) != before, WAIT)
        assert ok, "pacer stuck"


@pytest.mark.parametrize("cap", [None, 2, 0], ids=flavour)
def test_stress_timeout_two_threads(cap: int | None) -> None:
    # Both sides retry short timeouts; values still arrive once each, in order.
    n = 100
    tx, rx = cb(cap)
    pacer = Pacer()
    sender_side, receiver_side = 0, 1

    def sender() -> None:
        deadline = time.monotonic() + WAIT
        try:
            for i in range(n):
                if i % 2 == 0:
                    pacer.pause(sender_side)
                while True:
                    assert time.monotonic() < deadline
                    try:
                        tx.send_timeout(i, 0.002)
                        break
                    except mpsc.Timeout as exc:
                        if exc.value != i:
                            raise AssertionError(f"Timeout carries {exc.value!r}, not {i}")
                        pacer.timed_out(sender_side)
        finally:
            pacer.finish(sender_side)
            tx.close()

    def receiver() -> list[int]:
        got = []
        deadline = time.monotonic() + WAIT
        try:
            for i in range(n):
                if i % 2 == 0:
                    pacer.pause(receiver_side)
                while True:
                    assert time.monotonic() < deadline
                    try:
                        got.append(rx.recv_timeout(0.002))
                        break
                    except mpsc.Timeout:
                        pacer.timed_out(receiver_side)
        finally:
            pacer.finish(receiver_side)
        return got

    _, got = run_all(sender, receiver)
    assert got == list(range(n))
    with pytest.raises(mpsc.RecvError):
        rx.recv_timeout(WAIT)


@pytest.mark.parametrize(
    ("cap", "additional"), [(None, 1000), (50, 50), (0, 0)], ids=["unbounded", "cap50", "cap0"]
)
def test_drops(cap: int | None, additional: int) -> None:
    # Every message is released exactly once: those received at once, those left buffered
    # when both ends are dropped.
    rng = random.Random(20240611)
    for _ in range(10):
        steps = rng.randrange(2000)
        extra = rng.randrange(additional) if additional else 0
        drops: list[int] = []
        tx, rx = cb(cap)

        def receive(rx: mpsc.Receiver[Tracked] = rx, steps: int = steps) -> None:
            for _ in range(steps):
                rx.recv()

        def send(tx: mpsc.Sender[Tracked] = tx, steps: int = steps, drops: list[int] = drops) -> None:
            for _ in range(steps):
                tx.send(Tracked(drops))

        run_all(receive, send)
        for _ in range(extra):
            tx.try_send(Tracked(drops))
        assert len(drops) == steps
        tx.close()
        rx.close()
        assert len(drops) == steps + extra


@pytest.mark.parametrize("cap", [None, 4], ids=flavour)
@pytest.mark.parametrize("switching", ["default", "fast"])
def test_linearizable(cap: int | None, switching: str, request: pytest.FixtureRequest) -> None:
    # Once a send returned, a try_recv (by anyone) finds a message. With "fast", the
    # interpreter switches threads every microsecond, between any two steps of the fast paths.
    if switching == "fast":
        request.getfixturevalue("fast_switching")
    n = 25_000
    tx, rx = cb(cap)

    def worker() -> None:
        for _ in range(n):
            tx.send(0)
            rx.try_recv()

    run_all(*[worker] * 4)
    assert len(rx) == 0


def test_same_channel() -> None:
    for cap in (None, 1, 0):
        tx, rx = cb(cap)
        other_tx, other_rx = cb(cap)
        assert tx.same_channel(tx.clone())
        assert rx.same_channel(rx.clone())
        assert tx.same_channel(rx)
        assert not tx.same_channel(other_tx)
        assert not rx.same_channel(other_rx)
    zero_tx, _ = cb(0)
    unbounded_tx, _ = cb(None)
    assert not zero_tx.same_channel(unbounded_tx)
