"""Unbounded process channels with the shared-memory ring (``mpsc.process._rings``): what is
theirs alone. A push makes no system call, so a sender learns that every receiver is gone from
the ring's epoch (a close) or by asking the kernel every ``LOOK_EVERY`` (a kill); a process
without the ring refuses such a channel's handles clearly. (The rest of the process suite runs
on ring channels too: every ``mpp.channel()`` there has one where ``_ring`` is built.)"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import signal
import threading
import time
from typing import Any

import process_children as children
import pytest
from helpers import Children

import mpsc
import mpsc.process as mpp
from mpsc.process import _rings

WAIT = 10.0

pytestmark = pytest.mark.skipif(_rings.RING is None, reason="no shared-memory ring in this pass (MPSC_PURE)")


def _has_ring(handle: Any) -> bool:
    return handle._ep.ring is not None


def test_an_unbounded_channel_has_a_ring_and_a_bounded_one_none() -> None:
    tx, rx = mpp.channel()
    btx, brx = mpp.sync_channel(4)
    try:
        assert _has_ring(tx) and _has_ring(rx) and not _has_ring(btx) and not _has_ring(brx)
    finally:
        for handle in (tx, rx, btx, brx):
            handle.close()


def test_the_first_push_after_the_last_receiver_closed_fails() -> None:
    """A receiver's close bumps the ring's epoch: the very next push asks the kernel (no
    ``LOOK_EVERY`` window), in the compiled step and in the pure send alike."""
    for _ in range(50):
        tx, rx = mpp.channel()
        tx.send("looked at the kernel just now")
        assert rx.recv_timeout(WAIT) == "looked at the kernel just now"
        rx.close()
        with pytest.raises(mpsc.SendError) as caught:
            tx.send("after the close")
        assert caught.value.value == "after the close"
        with pytest.raises(mpsc.SendError):
            tx.try_send("again")
        tx.close()


def test_a_killed_receiver_is_seen_by_a_sender_that_only_pushes(procs: Children) -> None:
    """Issue 11: the others see a SIGKILLed process's disconnection within 10 ms. A kill bumps
    no epoch, and a push makes no system call: the sender asks the kernel every LOOK_EVERY.
    Paced so that the ring would take seconds to fill (which would also end the pushes)."""
    tx, rx = mpp.channel()
    ready_tx, ready_rx = mpp.channel()
    stop_tx, stop_rx = mpp.channel()
    child = procs.start(children.hold_receiver, rx, ready_tx, stop_rx)
    rx.close()
    ready_tx.close()
    pid = ready_rx.recv_timeout(WAIT)
    for i in range(100):
        tx.send(i)
    os.kill(pid, signal.SIGKILL)
    assert procs.join(child) == -signal.SIGKILL  # (dead: its fds are closed)
    dead = time.monotonic()
    pushed = 0
    failed: mpsc.SendError[Any] | None = None
    while failed is None and time.monotonic() - dead < WAIT:
        try:
            tx.send(("after", pushed))
        except mpsc.SendError as exc:
            failed = exc
        pushed += 1
        time.sleep(0.0005)  # (pacing the pushes, not ordering anything)
    seen = time.monotonic() - dead
    assert failed is not None and failed.value == ("after", pushed - 1)
    # (LOOK_EVERY is 1 ms; a sender that never looked would push until the ring, 5000 of these,
    # filled: 2.5 s at this pace. A loaded machine may stretch the look: the bound is generous.)
    assert seen < 1.0, f"the kill seen {seen * 1000:.1f} ms after, {pushed} pushes later"
    tx.close()
    stop_tx.close()


def test_a_process_without_the_ring_refuses_a_ring_handle_clearly(procs: Children) -> None:
    """A handle of a ring channel arriving in a process that has no ring (``MPSC_PURE``) raises
    a clear error as it arrives, and leaves nothing of the channel open there: once the sender
    here closes, the receiver here sees the disconnection."""
    tx, rx = mpp.channel()
    carrier_tx, carrier_rx = mpp.sync_channel(4)  # (bounded channels have no ring)
    results_tx, results_rx = mpp.sync_channel(4)
    os.environ["MPSC_PURE"] = "1"  # (what the spawned child starts with)
    try:
        spawn = multiprocessing.get_context("spawn")
        child = procs.start(children.refuse_ring_handle, carrier_rx, results_tx, ctx=spawn)
    finally:
        del os.environ["MPSC_PURE"]
    carrier_rx.close()
    results_tx.close()
    carrier_tx.send(tx.clone())
    pure, kind, text = results_rx.recv_timeout(WAIT)
    assert pure, "the child was not started without the ring"
    assert kind == "RuntimeError" and "shared-memory ring" in text and "MPSC_PURE" in text, (kind, text)
    assert procs.join(child) == 0
    tx.send("the channel is intact")
    assert rx.recv_timeout(WAIT) == "the channel is intact"
    tx.close()
    with pytest.raises(mpsc.RecvError):  # (the child closed what arrived)
        rx.recv_timeout(WAIT)
    for handle in (rx, carrier_tx, results_rx):
        handle.close()


def _fill(tx: mpp.Sender[Any]) -> int:
    """Small messages until the ring has no room for one more: how many."""
    count = 0
    while True:
        try:
            tx.try_send(count)
        except mpsc.Full:
            return count
        count += 1


@pytest.mark.parametrize("how", ["send", "send_timeout", "send_async", "select", "select_async"])
def test_a_sender_waits_on_a_full_ring_until_a_receiver_frees_room(how: str) -> None:
    """A small message that finds the ring full waits (it does not go through the socket: a
    receiver that fell behind would fall further behind), and goes once a receiver has taken
    half the ring; every message arrives once, in order."""
    tx, rx = mpp.channel()
    filled = _fill(tx)
    assert filled > 1000
    done = threading.Event()
    errors: list[BaseException] = []

    def send_one() -> None:
        try:
            if how == "send":
                tx.send(filled)
            elif how == "send_timeout":
                tx.send_timeout(filled, WAIT)
            elif how == "send_async":
                asyncio.run(asyncio.wait_for(tx.send_async(filled), WAIT))
            elif how == "select_async":
                assert asyncio.run(mpsc.select_async((tx, filled), timeout=WAIT)) == (0, None)
            else:
                assert mpsc.Select((tx, filled)).select(timeout=WAIT) == (0, None)
        except BaseException as exc:
            errors.append(exc)
        done.set()

    thread = threading.Thread(target=send_one)
    cpu = time.process_time()
    thread.start()
    assert not done.wait(0.3), errors  # (it waits: nothing frees room)
    # ... asleep, not trying again and again (a wait on an fd that is always ready would):
    assert time.process_time() - cpu < 0.2
    got = [rx.recv_timeout(WAIT) for _ in range(filled + 1)]
    thread.join(WAIT)
    assert done.is_set() and not errors, errors
    assert got == list(range(filled + 1))
    with pytest.raises(mpsc.Empty):
        rx.try_recv()
    tx.close()
    rx.close()


def test_a_large_message_that_finds_the_ring_full_goes_through_the_socket() -> None:
    tx, rx = mpp.channel()
    filled = _fill(tx)
    big = b"b" * (_rings.MARKED_WHEN_FULL + 1)
    tx.try_send(big)  # (no Full: a marked datagram)
    assert [rx.recv_timeout(WAIT) for _ in range(filled + 1)] == [*range(filled), big]
    tx.close()
    rx.close()


def test_a_sender_killed_while_it_waited_for_room_leaves_the_others_woken(procs: Children) -> None:
    """A sender killed while it waited for room stays counted among the waiters, and a ROOM sent
    for it stays unread: the next sender that waits for room is woken all the same."""
    tx, rx = mpp.channel()
    filled = _fill(tx)
    ready_tx, ready_rx = mpp.channel()
    child = procs.start(children.produce_forever, tx, ready_tx)
    ready_tx.close()
    pid = ready_rx.recv_timeout(WAIT)
    os.kill(pid, signal.SIGKILL)  # (waiting for room, or about to)
    assert procs.join(child) == -signal.SIGKILL
    got = [rx.recv_timeout(WAIT) for _ in range(filled)]
    assert got == list(range(filled))
    rest = 0
    while True:  # what the child sent before the ring was full again
        try:
            rx.try_recv()
        except mpsc.Empty:
            break
        rest += 1
    for _ in range(3):
        filled = _fill(tx)
        done = threading.Event()
        thread = threading.Thread(target=lambda: (tx.send_timeout("last", WAIT), done.set()))
        thread.start()
        assert not done.wait(0.05)
        got = [rx.recv_timeout(WAIT) for _ in range(filled + 1)]
        thread.join(WAIT)
        assert done.is_set() and got == [*range(filled), "last"]
    tx.close()
    rx.close()


def test_the_last_sender_killed_as_it_waited_for_room_leaves_every_message(procs: Children) -> None:
    """The last Sender's process, waiting for room, stopped, then a ROOM sent to it, then killed:
    its end of the socket goes with the ROOM unread, which the kernel reports to the receivers'
    end as a reset. The receiver gets every message sent, then ``RecvError``."""
    tx, rx = mpp.channel()
    filled = _fill(tx)
    ready_tx, ready_rx = mpp.channel()
    child = procs.start(children.send_after_ready, tx, ready_tx, "never sent")
    tx.close()
    ready_tx.close()
    pid = ready_rx.recv_timeout(WAIT)
    ring = rx._ep.ring
    deadline = time.monotonic() + WAIT
    while ring.room_waiters == 0 and time.monotonic() < deadline:
        time.sleep(0.001)  # (polling a count in shared memory, not ordering processes)
    os.kill(pid, signal.SIGSTOP)
    assert ring.room_waiters == 1
    got = [rx.recv_timeout(WAIT) for _ in range(filled // 2 + 10)]  # a ROOM goes to it
    os.kill(pid, signal.SIGKILL)
    assert procs.join(child) == -signal.SIGKILL
    while True:
        try:
            got.append(rx.recv_timeout(WAIT))
        except mpsc.RecvError:
            break
    assert got == list(range(filled))
    rx.close()


def test_a_holder_of_the_rings_lock_that_does_not_run_holds_up_no_call() -> None:
    """Review 14, finding 05: a process stopped (SIGSTOP, a debugger) holding the ring's lock
    made every other process's try_recv, try_send, recv_timeout and send_timeout wait until it
    ran again, and Ctrl-C with them. A busy lock is waited for 20 ms at most; then the call goes
    on its own way: the try_* calls say Empty or Full, the others wait out their timeouts."""
    tx, rx = mpp.channel()
    filled = _fill(tx)  # (a full ring: try_send must say Full, not wait)
    ring = rx._ep.ring
    pid = os.fork()
    if pid == 0:
        try:
            ring._stop_holding_lock()
        finally:
            os._exit(1)
    try:
        assert os.waitpid(pid, os.WUNTRACED)[1] & 0xFF == 0x7F  # stopped, holding the lock
        for call, raised in [
            (rx.try_recv, mpsc.Empty),
            (lambda: rx.recv_timeout(0.2), mpsc.Timeout),
            (lambda: tx.try_send("x"), mpsc.Full),
            (lambda: tx.send_timeout("x", 0.2), mpsc.Timeout),
        ]:
            start = time.monotonic()
            with pytest.raises(raised):
                call()
            assert time.monotonic() - start < 2.0
    finally:
        os.kill(pid, signal.SIGCONT)
        _, status = os.waitpid(pid, 0)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0  # (it let the lock go)
    assert [rx.recv_timeout(WAIT) for _ in range(filled)] == list(range(filled))
    tx.close()
    rx.close()
