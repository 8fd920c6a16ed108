"""Unbounded process channels with the shared-memory ring (``mpsc.process._rings``): what is
theirs alone. A push makes no system call, so a sender learns that every receiver is gone from
the ring's epoch (a close) or by asking the kernel every ``LOOK_EVERY`` (a kill); a process
without the ring refuses such a channel's handles clearly. (The rest of the process suite runs
on ring channels too: every ``mpp.channel()`` there has one where ``_ring`` is built.)"""

from __future__ import annotations

import multiprocessing
import os
import signal
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
