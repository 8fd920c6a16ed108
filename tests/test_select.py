"""select, select_async and Select (DESIGN.md section 2 and invariants 1-4, 6, 8).

The whole design rests on "claim once": a waiter queued on several channels is taken by exactly
one of them, and a value handed to a select is never lost, whether the select wins, loses, times
out or is cancelled. The scenarios below are modelled on Go's channel tests (test/chan/
doubleselect.go, select6.go, select7.go, sieve1.go; runtime/chan_test.go TestSelfSelect,
TestSelectStress, TestSelectFairness, TestMultiConsumer, TestPseudoRandomSend,
TestSelectDuplicateChannel) and on crossbeam-channel's select tests (matching, fairness of
duplicate arms, linearizable try-select), written afresh for this API.

White-box checks look at the channels' wait queues (``rx._chan.recvq`` / ``sendq``): after any
select has returned or raised, none of its entries may be left behind on any channel.

Fairness checks are statistical with bounds of six standard deviations or more (a false
failure has odds below one in 10**8), so they do not flake.
"""

from __future__ import annotations

import asyncio
import gc
import math
import os
import random
import threading
import time
import tracemalloc
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from helpers import (
    WAIT,
    Worker,
    blocked_receivers,
    blocked_senders,
    live,
    make,
    nothing_queued,
    recv_all,
    run_all,
    wait_until,
)

import mpsc
from mpsc import _core, _ops, _select

# Every test here runs with each try pass of select: the C one and the pure one (conftest).
pytestmark = pytest.mark.usefixtures("select_pass")

CAPS = [0, 1, None]
CAP_IDS = ["rendezvous", "bounded1", "unbounded"]


def idle(*handles: Any) -> bool:
    """No operation is queued on the channel of any of ``handles`` (white-box; a handle that
    will be closed is passed as its channel, ``handle._chan``, taken beforehand)."""
    return nothing_queued(*handles)


def offer_ready(tx: mpsc.Sender[Any], value: Any, cap: int | None) -> Worker | None:
    """Make ``value`` ready to be received: buffered, or (rendezvous) held by a parked sender."""
    if cap != 0:
        tx.send(value)
        return None
    before = blocked_senders(tx)
    worker = Worker(tx.send_timeout, value, WAIT)
    wait_until(lambda: blocked_senders(tx) == before + 1)
    return worker


def finish(worker: Worker | None) -> Any:
    return None if worker is None else worker.join()


def run_async(coro: Any) -> Any:
    return asyncio.run(coro)


# -- results: index and value, errors with .index --------------------------------------------


@pytest.mark.parametrize("cap", CAPS, ids=CAP_IDS)
def test_select_returns_the_position_and_value_of_the_ready_receive(cap: int | None) -> None:
    tx1, rx1 = make(cap)
    tx2, rx2 = make(cap)
    peer = offer_ready(tx2, "two", cap)
    assert mpsc.select(rx1, rx2, timeout=WAIT) == (1, "two")
    finish(peer)
    peer = offer_ready(tx1, "one", cap)
    assert mpsc.select(rx1, rx2, timeout=WAIT) == (0, "one")
    finish(peer)
    with pytest.raises(mpsc.Empty):
        mpsc.select(rx1, rx2, block=False)
    assert idle(rx1, rx2)


@pytest.mark.parametrize("cap", CAPS, ids=CAP_IDS)
def test_select_send_returns_its_position_and_none(cap: int | None) -> None:
    dead_tx, dead_rx = mpsc.sync_channel(0)  # nobody ever receives: never ready
    tx, rx = make(cap)
    if cap == 0:
        peer = Worker(rx.recv_timeout, WAIT)
        wait_until(lambda: blocked_receivers(rx) == 1)
        assert mpsc.select((dead_tx, "no"), (tx, "yes"), timeout=WAIT) == (1, None)
        assert peer.join() == "yes"
    else:
        assert mpsc.select((dead_tx, "no"), (tx, "yes"), timeout=WAIT) == (1, None)
        assert rx.try_recv() == "yes"
    with pytest.raises(mpsc.Empty):
        rx.try_recv()
    with pytest.raises(mpsc.Empty):
        dead_rx.try_recv()
    assert idle(dead_tx, tx)


@pytest.mark.parametrize("cap", CAPS, ids=CAP_IDS)
def test_disconnected_receive_raises_recv_error_with_its_index(cap: int | None) -> None:
    tx1, rx1 = make(cap)
    tx2, rx2 = make(cap)
    if cap != 0:
        tx2.send("last")
    tx2.close()
    if cap != 0:  # what was buffered is still delivered before the error
        assert mpsc.select(rx1, rx2, timeout=WAIT) == (1, "last")
    with pytest.raises(mpsc.RecvError) as info:
        mpsc.select(rx1, rx2, timeout=WAIT)
    assert info.value.index == 1
    assert isinstance(info.value, mpsc.TryRecvError)
    assert isinstance(info.value, mpsc.RecvTimeoutError)
    with pytest.raises(mpsc.RecvError) as info:
        mpsc.select(rx2, block=False)
    assert info.value.index == 0
    with pytest.raises(mpsc.RecvError) as plain:
        rx2.try_recv()
    assert plain.value.index is None  # only select sets it
    assert idle(rx1, rx2)


@pytest.mark.parametrize("cap", CAPS, ids=CAP_IDS)
def test_disconnected_send_raises_send_error_with_index_and_value(cap: int | None) -> None:
    dead_tx, dead_rx = mpsc.sync_channel(0)
    tx, rx = make(cap)
    rx.close()
    with pytest.raises(mpsc.SendError) as info:
        mpsc.select((dead_tx, "kept"), (tx, "handed back"), timeout=WAIT)
    assert info.value.index == 1
    assert info.value.value == "handed back"
    assert isinstance(info.value, mpsc.TrySendError)
    assert isinstance(info.value, mpsc.SendTimeoutError)
    assert idle(dead_tx, tx)


@pytest.mark.parametrize("cap", CAPS, ids=CAP_IDS)
def test_last_sender_leaving_wakes_a_parked_select(cap: int | None) -> None:
    other_tx, other_rx = mpsc.sync_channel(0)
    tx, rx = make(cap)
    selector = Worker(mpsc.select, other_rx, rx)  # no timeout: the wake-up must come
    wait_until(lambda: blocked_receivers(rx) == 1 and blocked_receivers(other_rx) == 1)
    tx.close()
    with pytest.raises(mpsc.RecvError) as info:
        selector.join()
    assert info.value.index == 1
    assert idle(other_rx, rx)


@pytest.mark.parametrize("cap", [0, 1], ids=CAP_IDS[:2])
def test_last_receiver_leaving_wakes_a_parked_select_send(cap: int) -> None:
    other_tx, other_rx = mpsc.sync_channel(0)
    tx, rx = make(cap)
    for i in range(cap):
        tx.send(i)
    selector = Worker(mpsc.select, (other_tx, "other"), (tx, "mine"))
    wait_until(lambda: blocked_senders(tx) == 1 and blocked_senders(other_tx) == 1)
    rx.close()
    with pytest.raises(mpsc.SendError) as info:
        selector.join()
    assert info.value.index == 1
    assert info.value.value == "mine"
    assert idle(other_tx, tx)
    with pytest.raises(mpsc.Empty):
        other_rx.try_recv()


def test_closing_a_clone_does_not_wake_a_parked_select() -> None:
    # crossbeam select.rs cloning2: dropping a clone of a sender is not a disconnection.
    tx1, rx1 = mpsc.channel()
    tx2, rx2 = mpsc.channel()
    selector = Worker(mpsc.select, rx1, rx2, name="selector")
    wait_until(lambda: blocked_receivers(rx1) == 1 and blocked_receivers(rx2) == 1)
    tx1.clone().close()
    assert not selector.done.wait(0.05)
    assert blocked_receivers(rx1) == 1
    tx2.send("two")
    assert selector.join() == (1, "two")
    assert idle(rx1, rx2)


def test_closing_the_handle_a_select_waits_on_raises_closed_handle_error() -> None:
    tx1, rx1 = mpsc.channel()
    tx2, rx2 = mpsc.sync_channel(0)
    selector = Worker(mpsc.select, rx1, rx2, name="selector")
    wait_until(lambda: blocked_receivers(rx1) == 1 and blocked_receivers(rx2) == 1)
    rx2.close()
    with pytest.raises(mpsc.ClosedHandleError):
        selector.join()
    assert idle(rx1, tx2)
    tx1.send("kept")  # the other channel is untouched and still works
    assert rx1.try_recv() == "kept"


# -- timeouts, block=False, no operations ------------------------------------------------------


def test_select_timeout_raises_timeout_after_the_timeout() -> None:
    channels = [make(cap) for cap in CAPS]
    receivers = [rx for _, rx in channels]
    start = time.monotonic()
    with pytest.raises(mpsc.Timeout) as info:
        mpsc.select(*receivers, timeout=0.05)
    elapsed = time.monotonic() - start
    assert 0.05 <= elapsed < 0.05 + 2.0
    assert isinstance(info.value, TimeoutError)
    assert isinstance(info.value, mpsc.RecvTimeoutError)
    assert isinstance(info.value, mpsc.SendTimeoutError)
    assert idle(*receivers)


def test_select_with_timeout_zero_returns_what_is_ready() -> None:
    tx, rx = mpsc.channel()
    tx.send("ready")
    assert mpsc.select(rx, timeout=0) == (0, "ready")
    with pytest.raises(mpsc.Timeout):
        mpsc.select(rx, timeout=0)


def test_block_false_raises_empty_and_registers_nothing() -> None:
    channels = [make(cap) for cap in CAPS]
    full_tx, full_rx = mpsc.sync_channel(1)
    full_tx.send("filler")
    operations = [rx for _, rx in channels] + [(full_tx, "x"), (channels[0][0], "y")]
    with pytest.raises(mpsc.Empty) as info:
        mpsc.select(*operations, block=False)
    assert isinstance(info.value, mpsc.TryRecvError)
    with pytest.raises(mpsc.Empty):  # block=False wins over a timeout
        mpsc.select(*operations, timeout=WAIT, block=False)
    assert idle(*(rx for _, rx in channels), full_tx)
    assert len(full_rx) == 1
    channels[2][0].send("now")
    assert mpsc.select(*operations, block=False) == (2, "now")


def test_select_without_operations() -> None:
    with pytest.raises(ValueError):
        mpsc.select()
    with pytest.raises(mpsc.Empty):
        mpsc.select(block=False)
    with pytest.raises(mpsc.Timeout):
        mpsc.select(timeout=0)
    start = time.monotonic()
    with pytest.raises(mpsc.Timeout):
        mpsc.select(timeout=0.05)
    elapsed = time.monotonic() - start
    assert 0.05 <= elapsed < 0.05 + 2.0


def test_huge_or_infinite_timeouts_are_no_timeout() -> None:
    tx, rx = mpsc.channel()
    for timeout in (math.inf, 1e300, 10**400):
        tx.send(timeout)
        assert mpsc.select(rx, timeout=timeout) == (0, timeout)
    selector = Worker(lambda: mpsc.select(rx, timeout=math.inf))
    wait_until(lambda: blocked_receivers(rx) == 1)
    tx.send("woken")
    assert selector.join() == (0, "woken")


# -- the same channel more than once; rendezvous self-pairing ----------------------------------


@pytest.mark.parametrize("cap", [1, None], ids=CAP_IDS[1:])
def test_duplicate_receive_arms_take_one_value(cap: int | None) -> None:
    tx, rx = make(cap)
    tx.send("only")
    index, value = mpsc.select(rx, rx, rx, timeout=WAIT)
    assert index in (0, 1, 2)
    assert value == "only"
    with pytest.raises(mpsc.Empty):
        mpsc.select(rx, rx, rx, block=False)
    selector = Worker(lambda: mpsc.select(rx, rx, timeout=WAIT))
    wait_until(lambda: blocked_receivers(rx) == 2)
    tx.send("first")
    tx.send("second")  # not taken by the select's second entry
    index, value = selector.join()
    assert index in (0, 1)
    assert value == "first"
    assert rx.try_recv() == "second"
    assert idle(rx)


def test_a_select_may_be_queued_twice_on_one_channel() -> None:
    # Go TestSelectDuplicateChannel: A waits on c, c, d; B waits on c; d wakes A, which must
    # leave c's queue intact so that a later send on c still reaches B.
    c_tx, c = mpsc.sync_channel(0)
    d_tx, d = mpsc.sync_channel(0)
    e_tx, e = mpsc.sync_channel(0)

    def a() -> tuple[int, Any]:
        result = mpsc.select(c, c, d, timeout=WAIT)
        e_tx.send_timeout("a done", WAIT)
        return result

    worker_a = Worker(a, name="A")
    wait_until(lambda: blocked_receivers(c) == 2 and blocked_receivers(d) == 1)
    worker_b = Worker(c.recv_timeout, WAIT, name="B")
    wait_until(lambda: blocked_receivers(c) == 3)
    d_tx.send_timeout(7, WAIT)
    assert e.recv_timeout(WAIT) == "a done"
    assert worker_a.join() == (2, 7)
    c_tx.send_timeout(8, WAIT)
    assert worker_b.join() == 8
    assert idle(c, d, e)


def test_send_and_receive_on_one_buffered_channel_in_one_select() -> None:
    tx, rx = mpsc.sync_channel(1)
    assert mpsc.select((tx, "a"), rx, timeout=WAIT) == (0, None)  # only the send is ready
    assert mpsc.select((tx, "b"), rx, timeout=WAIT) == (1, "a")  # only the receive is ready
    utx, urx = mpsc.channel()
    assert mpsc.select((utx, 1), urx, timeout=WAIT) == (0, None)  # crossbeam: unbounded -> send
    assert urx.try_recv() == 1


def test_a_select_never_pairs_with_itself_on_a_rendezvous_channel() -> None:
    tx, rx = mpsc.sync_channel(0)
    with pytest.raises(mpsc.Empty):
        mpsc.select((tx, "mine"), rx, block=False)
    with pytest.raises(mpsc.Timeout):
        mpsc.select((tx, "mine"), rx, (tx, "also mine"), rx, timeout=0.05)
    assert idle(tx)
    # Another thread doing the same select pairs with it, in one direction or the other.
    peer = Worker(lambda: mpsc.select((tx, "peer"), rx, timeout=WAIT))
    wait_until(lambda: blocked_senders(tx) == 1 and blocked_receivers(rx) == 1)
    mine = mpsc.select((tx, "main"), rx, timeout=WAIT)
    theirs = peer.join()
    assert {mine, theirs} in ({(0, None), (1, "main")}, {(1, "peer"), (0, None)})
    assert idle(tx)


# -- against every peer kind, every capacity ----------------------------------------------------


@pytest.mark.parametrize("cap", CAPS, ids=CAP_IDS)
@pytest.mark.parametrize("selecting", ["receiver", "sender", "both"])
def test_select_transfers_in_order_against_plain_or_selecting_peers(
    cap: int | None, selecting: str, fast_switching: None
) -> None:
    n = 300
    tx, rx = make(cap)
    dead_tx, dead_rx = mpsc.sync_channel(0)  # a send arm that is never ready
    quiet_tx, quiet_rx = mpsc.channel()  # a receive arm that is never ready

    def send_all() -> None:
        with tx:
            for i in range(n):
                if selecting in ("sender", "both"):
                    assert mpsc.select((dead_tx, -1), (tx, i), timeout=WAIT) == (1, None)
                else:
                    tx.send_timeout(i, WAIT)

    def receive() -> list[int]:
        got = []
        while True:
            if selecting in ("receiver", "both"):
                try:
                    index, value = mpsc.select(quiet_rx, rx, timeout=WAIT)
                except mpsc.RecvError as gone:
                    assert gone.index == 1
                    return got
                assert index == 1
            else:
                try:
                    value = rx.recv_timeout(WAIT)
                except mpsc.RecvError:
                    return got
            got.append(value)

    _, got = run_all(send_all, receive)
    assert got == list(range(n))
    assert idle(rx, dead_tx, quiet_rx)


# -- bad input: raised at the call, before anything is registered ------------------------------


BAD_OPERATIONS: dict[str, Callable[[mpsc.Sender[Any], mpsc.Receiver[Any]], Any]] = {
    "int": lambda tx, rx: 5,
    "str": lambda tx, rx: "rx",
    "none": lambda tx, rx: None,
    "receiver-in-a-pair": lambda tx, rx: (rx, 1),
    "list-pair": lambda tx, rx: [tx, 1],
    "triple": lambda tx, rx: (tx, 1, 2),
    "one-tuple": lambda tx, rx: (tx,),
    "bare-sender": lambda tx, rx: tx,
    "pair-of-value-and-sender": lambda tx, rx: (1, tx),
}


class Scene:
    """Channels on which any operation that started would leave a visible trace.

    ``ready_rx`` holds a value, ``room_tx`` has room, and a receiver is parked on the rendezvous
    channel of ``parked_tx``: a select over them that ran at all would take the value, fill the
    room or hand a value to the parked receiver.
    """

    def __init__(self) -> None:
        self.ready_tx, self.ready_rx = mpsc.channel()
        self.ready_tx.send("ready")
        self.room_tx, self.room_rx = mpsc.sync_channel(1)
        self.parked_tx, self.parked_rx = mpsc.sync_channel(0)
        self.parked = Worker(self.parked_rx.recv_timeout, WAIT, name="parked receiver")
        wait_until(lambda: blocked_receivers(self.parked_rx) == 1)

    def operations(self) -> list[Any]:
        return [self.ready_rx, (self.room_tx, "filled"), (self.parked_tx, "stolen")]

    def assert_untouched(self) -> None:
        assert len(self.ready_rx) == 1
        assert len(self.room_rx) == 0
        assert blocked_receivers(self.parked_rx) == 1
        assert not self.parked.done.is_set()
        assert idle(self.ready_rx, self.room_rx)
        self.parked_tx.send_timeout("released", WAIT)
        assert self.parked.join() == "released"
        assert self.ready_rx.try_recv() == "ready"


@pytest.mark.parametrize("bad", list(BAD_OPERATIONS), ids=list(BAD_OPERATIONS))
def test_wrong_operation_type_raises_type_error_before_anything_happens(bad: str) -> None:
    scene = Scene()
    other_tx, other_rx = mpsc.channel()
    operation = BAD_OPERATIONS[bad](other_tx, other_rx)
    with pytest.raises(TypeError):
        mpsc.select(*scene.operations(), operation, timeout=WAIT)
    with pytest.raises(TypeError):
        mpsc.select(operation, *scene.operations(), block=False)
    with pytest.raises(TypeError):
        run_async(mpsc.select_async(*scene.operations(), operation, timeout=WAIT))
    sel = mpsc.Select(*scene.operations())
    with pytest.raises(TypeError):
        sel.add(operation)
    assert len(sel) == 3
    with pytest.raises(TypeError):
        mpsc.Select(operation)
    scene.assert_untouched()
    assert idle(other_rx)


def test_bare_sender_error_says_a_send_is_a_pair() -> None:
    tx, rx = mpsc.channel()
    with pytest.raises(TypeError, match=r"\(Sender, value\) pair"):
        mpsc.select(tx)


@pytest.mark.parametrize("which", ["receiver", "sender"])
def test_closed_handle_raises_closed_handle_error_before_anything_happens(which: str) -> None:
    assert issubclass(mpsc.ClosedHandleError, ValueError)
    assert not issubclass(mpsc.ClosedHandleError, mpsc.ChannelError)
    scene = Scene()
    tx, rx = mpsc.channel()
    keep_tx, keep_rx = tx.clone(), rx.clone()
    if which == "receiver":
        rx.close()
        operation: Any = rx
    else:
        tx.close()
        operation = (tx, "value")
    with pytest.raises(mpsc.ClosedHandleError):
        mpsc.select(*scene.operations(), operation, timeout=WAIT)
    with pytest.raises(mpsc.ClosedHandleError):
        run_async(mpsc.select_async(*scene.operations(), operation, timeout=WAIT))
    sel = mpsc.Select(*scene.operations())
    with pytest.raises(mpsc.ClosedHandleError):
        sel.add(operation)
    assert len(sel) == 3
    scene.assert_untouched()
    assert idle(keep_rx)
    assert not keep_tx.is_disconnected()
    assert not keep_rx.is_disconnected()


def test_a_handle_closed_after_it_was_added_fails_the_next_select() -> None:
    tx, rx = mpsc.channel()
    ready_tx, ready_rx = mpsc.channel()
    ready_tx.send("ready")
    sel = mpsc.Select(ready_rx, rx)
    rx.close()
    with pytest.raises(mpsc.ClosedHandleError):
        sel.select(timeout=WAIT)
    assert ready_rx.try_recv() == "ready"


@pytest.mark.parametrize(
    ("timeout", "error"),
    [
        (-1, ValueError),
        (-1e-9, ValueError),
        (-(10**400), ValueError),
        (math.nan, ValueError),
        ("1", TypeError),
        (True, TypeError),
    ],
)
def test_bad_timeout_raises_before_anything_happens(timeout: Any, error: type[Exception]) -> None:
    scene = Scene()
    with pytest.raises(error):
        mpsc.select(*scene.operations(), timeout=timeout)
    with pytest.raises(error):
        run_async(mpsc.select_async(*scene.operations(), timeout=timeout))
    with pytest.raises(error):
        mpsc.Select(*scene.operations()).select(timeout=timeout)
    with pytest.raises(error):
        mpsc.select(timeout=timeout)
    scene.assert_untouched()


# -- claim once: Go's channel tests ------------------------------------------------------------


@pytest.mark.parametrize("cap", [0, 1], ids=CAP_IDS[:2])
def test_doubleselect_no_value_is_delivered_twice(cap: int, fast_switching: None) -> None:
    # Go test/chan/doubleselect.go: one sender selects each value onto one of four channels;
    # four muxers forward into one channel; the receiver must see every value exactly once.
    n = 3000
    lanes = [mpsc.sync_channel(cap) for _ in range(4)]
    out_tx, out_rx = mpsc.sync_channel(cap)

    def sender() -> None:
        try:
            for i in range(n):
                index, _ = mpsc.select(*[(tx, i) for tx, _ in lanes], timeout=WAIT)
                assert 0 <= index < 4
        finally:
            for tx, _ in lanes:
                tx.close()

    def mux(rx: mpsc.Receiver[int], out: mpsc.Sender[int]) -> int:
        with out:
            forwarded = 0
            for value in recv_all(rx):
                out.send_timeout(value, WAIT)
                forwarded += 1
            return forwarded

    muxers = [Worker(mux, rx, out_tx.clone()) for _, rx in lanes]
    out_tx.close()
    feeder = Worker(sender)
    seen = recv_all(out_rx)
    feeder.join()
    forwarded = [muxer.join() for muxer in muxers]
    counts = Counter(seen)
    assert [value for value, count in counts.items() if count > 1] == []
    assert sorted(seen) == list(range(n))
    assert sum(forwarded) == n
    assert all(idle(rx) for _, rx in lanes)


def test_select6_a_woken_select_does_not_steal_from_a_plain_receiver() -> None:
    # Go test/chan/select6.go, as written there.
    c1_tx, c1 = mpsc.sync_channel(0)
    c2_tx, c2 = mpsc.sync_channel(0)
    c3_tx, c3 = mpsc.sync_channel(0)
    plain = Worker(c1.recv_timeout, WAIT, name="plain receiver")
    wait_until(lambda: blocked_receivers(c1) == 1)

    def selector() -> tuple[tuple[int, Any], Any]:
        chosen = mpsc.select(c1, c2, timeout=WAIT)
        c3_tx.send_timeout(True, WAIT)
        return chosen, c1.recv_timeout(WAIT)

    selecting = Worker(selector, name="selector")
    wait_until(lambda: blocked_receivers(c1) == 2 and blocked_receivers(c2) == 1)
    waker = Worker(c2_tx.send_timeout, "wake", WAIT)
    assert c3.recv_timeout(WAIT) is True
    c1_tx.send_timeout("first", WAIT)
    c1_tx.send_timeout("second", WAIT)
    waker.join()
    chosen, later = selecting.join()
    assert chosen == (1, "wake")
    assert {plain.join(), later} == {"first", "second"}
    assert idle(c1, c2, c3)


@pytest.mark.parametrize("cap", CAPS, ids=CAP_IDS)
@pytest.mark.parametrize("select_first", [True, False], ids=["select-queued-first", "plain-queued-first"])
def test_a_select_won_elsewhere_leaves_the_next_value_to_a_plain_receiver(
    cap: int | None, select_first: bool, fast_switching: None
) -> None:
    # The racy core of select6: once a send on c2 has returned, the select's waiter is taken,
    # even if its stale entry is still in c1's queue (ahead of the plain receiver, or behind
    # it); a value sent on c1 right after must go to the plain receiver parked on c1, and must
    # not vanish into the select's stale entry.
    for _ in range(100):
        c1_tx, c1 = make(cap)
        c2_tx, c2 = mpsc.sync_channel(0)
        if select_first:
            selecting = Worker(lambda: mpsc.select(c1, c2, timeout=WAIT))
            wait_until(lambda: blocked_receivers(c1) == 1 and blocked_receivers(c2) == 1)
            plain = Worker(c1.recv_timeout, WAIT)
        else:
            plain = Worker(c1.recv_timeout, WAIT)
            wait_until(lambda: blocked_receivers(c1) == 1)
            selecting = Worker(lambda: mpsc.select(c1, c2, timeout=WAIT))
        wait_until(lambda: blocked_receivers(c1) == 2 and blocked_receivers(c2) == 1)
        c2_tx.send_timeout("wake", WAIT)  # returns once the select holds "wake"
        c1_tx.send_timeout("for the plain receiver", WAIT)
        assert selecting.join() == (1, "wake")
        assert plain.join() == "for the plain receiver"
        assert idle(c1, c2)


RECEIVE_KINDS = ["recv", "select1", "select2"]
SEND_KINDS = ["send", "select1", "select2"]


@pytest.mark.parametrize("cap", CAPS, ids=CAP_IDS)
@pytest.mark.parametrize("first", ["receiver", "sender"])
@pytest.mark.parametrize("receive_kind", RECEIVE_KINDS)
@pytest.mark.parametrize("send_kind", SEND_KINDS)
def test_select7_every_combination_of_plain_and_selecting_peers(
    cap: int | None, first: str, receive_kind: str, send_kind: str
) -> None:
    # Go test/chan/select7.go: {recv, 1-arm select, 2-arm select} x {send, 1-arm, 2-arm},
    # here with either side arriving first and parking.
    tx, rx = make(cap)
    quiet_tx, quiet_rx = mpsc.channel()  # the receiver's second arm: nothing is ever sent
    dead_tx, dead_rx = mpsc.sync_channel(0)  # the sender's second arm: nobody ever receives

    def receive() -> Any:
        if receive_kind == "recv":
            return rx.recv_timeout(WAIT)
        if receive_kind == "select1":
            index, value = mpsc.select(rx, timeout=WAIT)
            assert index == 0
            return value
        index, value = mpsc.select(quiet_rx, rx, timeout=WAIT)
        assert index == 1
        return value

    def send() -> None:
        if send_kind == "send":
            tx.send_timeout("v", WAIT)
        elif send_kind == "select1":
            assert mpsc.select((tx, "v"), timeout=WAIT) == (0, None)
        else:
            assert mpsc.select((dead_tx, "x"), (tx, "v"), timeout=WAIT) == (1, None)

    if first == "receiver":
        receiver = Worker(receive)
        wait_until(lambda: blocked_receivers(rx) == 1)
        send()
        assert receiver.join() == "v"
    else:
        sender = Worker(send)
        if cap == 0:
            wait_until(lambda: blocked_senders(tx) == 1)
        else:
            sender.join()
        assert receive() == "v"
        sender.join()
    assert idle(rx, quiet_rx, dead_rx)
    with pytest.raises(mpsc.Empty):
        dead_rx.try_recv()


def test_sieve_of_selects() -> None:
    # Go test/chan/sieve1.go: a chain of filter threads over bounded(1) channels, every step a
    # select; shutting the chain down is the last receiver closing, which ripples back.
    count = 25
    workers: list[Worker] = []

    def generate(out: mpsc.Sender[int]) -> None:
        with out:
            i = 2
            while True:
                try:
                    mpsc.select((out, i), timeout=WAIT)
                except mpsc.SendError:
                    return
                i += 1

    def keep(inp: mpsc.Receiver[int], out: mpsc.Sender[int], prime: int) -> None:
        with inp, out:
            while True:
                _, n = mpsc.select(inp, timeout=WAIT)
                if n % prime:
                    try:
                        mpsc.select((out, n), timeout=WAIT)
                    except mpsc.SendError:
                        return

    tx, rx = mpsc.sync_channel(1)
    workers.append(Worker(generate, tx))
    primes = []
    for _ in range(count):
        _, prime = mpsc.select(rx, timeout=WAIT)
        primes.append(prime)
        tx2, rx2 = mpsc.sync_channel(1)
        workers.append(Worker(keep, rx, tx2, prime))
        rx = rx2
    rx.close()
    for worker in workers:
        worker.join()
    expected = [2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71, 73, 79, 83]
    assert primes == [*expected, 89, 97]


@pytest.mark.parametrize("cap", [0, 1, 10, None], ids=["rendezvous", "bounded1", "bounded10", "unbounded"])
def test_self_select_on_one_channel(cap: int | None, fast_switching: None) -> None:
    # Go TestSelfSelect: two threads each select {send p, receive} on the same channel, 1000
    # times; no deadlock, and on a rendezvous channel nobody ever receives its own value.
    rounds = 1000
    tx, rx = make(cap)

    def player(p: int) -> tuple[int, int]:
        sent = received = 0
        for i in range(rounds):
            if p == 0 or i % 2 == 0:
                index, value = mpsc.select((tx, p), rx, timeout=WAIT)
                receiving = index == 1
            else:
                index, value = mpsc.select(rx, (tx, p), timeout=WAIT)
                receiving = index == 0
            if receiving:
                received += 1
                assert cap != 0 or value != p, f"player {p} received its own value"
            else:
                sent += 1
        return sent, received

    (sent0, received0), (sent1, received1) = run_all(lambda: player(0), lambda: player(1))
    buffered = len(rx)
    assert sent0 + sent1 == received0 + received1 + buffered
    if cap == 0:
        assert sent0 == received1
        assert sent1 == received0
    assert idle(rx)


@pytest.mark.parametrize("leftover", [False, True])
def test_matching_threads_on_one_rendezvous_channel(leftover: bool, fast_switching: None) -> None:
    # crossbeam select.rs matching / matching_with_leftover: every thread selects {receive,
    # send its id}; they pair off, nobody receives its own id; with an odd number of threads
    # the main thread's plain send completes the last one.
    threads = 55 if leftover else 44
    tx, rx = mpsc.sync_channel(0)

    def one(i: int) -> Callable[[], tuple[int, Any]]:
        def run() -> tuple[int, Any]:
            index, value = mpsc.select(rx, (tx, i), timeout=WAIT)
            assert value != i, f"thread {i} received its own value"
            return index, value

        return run

    workers = [Worker(one(i)) for i in range(threads)]
    if leftover:
        tx.send_timeout("main", WAIT)
    results = [worker.join() for worker in workers]
    received = [value for index, value in results if index == 0]
    senders = [i for i, (index, _) in enumerate(results) if index == 1]
    expected = sorted(senders, key=repr) + (["main"] if leftover else [])
    assert sorted(received, key=repr) == sorted(expected, key=repr)
    assert len(received) == (threads + leftover) // 2
    assert idle(rx)


def test_select_stress_plain_and_selecting_peers_on_mixed_capacities(fast_switching: None) -> None:
    # Go TestSelectStress: four channels (capacities 0, 0, 2, 3); a plain sender and a plain
    # receiver per channel, plus one thread sending n to every channel through one select and
    # one thread receiving n from every channel through a Select that drops finished channels.
    n = 400
    caps = [0, 0, 2, 3]
    chans = [mpsc.sync_channel(cap) for cap in caps]

    def plain_sender(k: int) -> None:
        for i in range(n):
            chans[k][0].send_timeout(("plain", k, i), WAIT)

    def plain_receiver(k: int) -> list[Any]:
        return [chans[k][1].recv_timeout(WAIT) for _ in range(n)]

    def select_sender() -> None:
        counts = [0] * 4
        active = [0, 1, 2, 3]
        while active:
            operations = [(chans[k][0], ("select", k, counts[k])) for k in active]
            index, value = mpsc.select(*operations, timeout=WAIT)
            assert value is None
            k = active[index]
            counts[k] += 1
            if counts[k] == n:
                active.remove(k)

    def select_receiver() -> list[Any]:
        sel = mpsc.Select()
        lane = {sel.recv(chans[k][1]): k for k in range(4)}
        counts = [0] * 4
        got = []
        while len(sel):
            index, value = sel.select(timeout=WAIT)
            assert value[1] == lane[index]
            got.append(value)
            counts[lane[index]] += 1
            if counts[lane[index]] == n:
                sel.remove(index)
        return got

    fns: list[Callable[[], Any]] = []
    for k in range(4):
        fns.append(lambda k=k: plain_sender(k))
        fns.append(lambda k=k: plain_receiver(k))
    fns += [select_sender, select_receiver]
    results = run_all(*fns)
    received: list[Any] = []
    for k in range(4):
        got = results[2 * k + 1]
        assert all(value[1] == k for value in got)
        received += got
    received += results[-1]
    expected = [(kind, k, i) for kind in ("plain", "select") for k in range(4) for i in range(n)]
    assert Counter(received) == Counter(expected)
    for got in [*results[1:8:2], results[-1]]:  # per-sender FIFO, seen from each receiver
        last: dict[tuple[str, int], int] = {}
        for kind, k, i in got:
            assert i > last.get((kind, k), -1)
            last[kind, k] = i
    assert all(idle(rx) for _, rx in chans)


def test_multi_consumer_through_selects(fast_switching: None) -> None:
    # Go TestMultiConsumer: 23 workers take from one bounded(69) queue and forward to a result
    # channel, here both through selects; count and sum are preserved, closing propagates.
    workers = 23
    items = 20_000
    q_tx, q_rx = mpsc.sync_channel(69)
    r_tx, r_rx = mpsc.sync_channel(workers)
    quiet_tx, quiet_rx = mpsc.channel()  # a second arm that never fires

    def work(inp: mpsc.Receiver[int], out: mpsc.Sender[int]) -> int:
        done = 0
        with inp, out:
            while True:
                try:
                    index, value = mpsc.select(quiet_rx, inp, timeout=WAIT)
                except mpsc.RecvError as gone:
                    assert gone.index == 1
                    return done
                assert index == 1
                assert mpsc.select((out, value), timeout=WAIT) == (0, None)
                done += 1

    q_chan = q_tx._chan
    pool = [Worker(work, q_rx.clone(), r_tx.clone()) for _ in range(workers)]
    q_rx.close()
    r_tx.close()

    def feed() -> None:
        with q_tx:
            for i in range(items):
                q_tx.send_timeout(i, WAIT)

    feeder = Worker(feed)
    results = recv_all(r_rx)
    feeder.join()
    per_worker = [worker.join() for worker in pool]
    assert len(results) == items
    assert sum(results) == items * (items - 1) // 2
    assert sum(per_worker) == items
    assert idle(q_chan, r_rx, quiet_rx)


# -- claim once: values handed to selects that lose, time out or are cancelled -----------------


@pytest.mark.parametrize("cap", CAPS, ids=CAP_IDS)
def test_values_handed_to_timing_out_selects_are_never_lost(cap: int | None, fast_switching: None) -> None:
    # A select whose deadline passes just as a sender hands it a value must return the value.
    n = 1000
    tx, rx = make(cap)
    quiet_tx, quiet_rx = mpsc.sync_channel(0)

    def produce() -> None:
        with tx:
            for i in range(n):
                tx.send_timeout(i, WAIT)

    producer = Worker(produce)
    got: list[int] = []
    timeouts = 0
    rng = random.Random(7)
    deadline = time.monotonic() + WAIT * 3
    while True:
        assert time.monotonic() < deadline, f"stuck after {len(got)} values"
        try:
            index, value = mpsc.select(quiet_rx, rx, timeout=rng.choice((0, 1e-5, 5e-5, 2e-4)))
        except mpsc.Timeout:
            timeouts += 1
            continue
        except mpsc.RecvError as gone:
            assert gone.index == 1
            break
        assert index == 1
        got.append(value)
    producer.join()
    assert got == list(range(n))
    assert idle(rx, quiet_rx)


@pytest.mark.parametrize("cap", [0, 1], ids=CAP_IDS[:2])
def test_sends_of_timing_out_selects_are_all_or_nothing(cap: int, fast_switching: None) -> None:
    # The sending side: a select send that timed out did not send (else a retry would
    # duplicate the value); one that returned did (else the value would be missing).
    n = 1000
    tx, rx = make(cap)
    quiet_tx, quiet_rx = mpsc.sync_channel(0)
    consumer = Worker(recv_all, rx)
    rng = random.Random(11)
    deadline = time.monotonic() + WAIT * 3
    with tx:
        for i in range(n):
            while True:
                assert time.monotonic() < deadline, f"stuck at {i}"
                try:
                    operations = ((quiet_tx, -1), (tx, i))
                    index, _ = mpsc.select(*operations, timeout=rng.choice((0, 1e-5, 5e-5, 2e-4)))
                except mpsc.Timeout:
                    continue
                assert index == 1
                break
    assert consumer.join() == list(range(n))
    assert idle(rx, quiet_tx)


@pytest.mark.parametrize("cap", [0, 1], ids=CAP_IDS[:2])
def test_a_select_sending_on_two_channels_sends_on_exactly_one(cap: int, fast_switching: None) -> None:
    # The select is parked on two full channels; room appears in both at once. Exactly one of
    # its values may land; the losing channel is as if the select never ran.
    for _ in range(150):
        (tx1, rx1), (tx2, rx2) = make(cap), make(cap)
        stop_tx, stop_rx = mpsc.channel()
        for i in range(cap):
            tx1.send(("old", 1, i))
            tx2.send(("old", 2, i))
        selector = Worker(lambda: mpsc.select((tx1, "a"), (tx2, "b"), timeout=WAIT))
        wait_until(lambda: blocked_senders(tx1) == 1 and blocked_senders(tx2) == 1)

        def take(rx: mpsc.Receiver[Any]) -> list[Any]:
            got = []
            if cap:  # make room: take the old value
                got.append(rx.recv_timeout(WAIT))
            else:  # take the select's value, or give up when told to
                try:
                    got.append(mpsc.select(rx, stop_rx, timeout=WAIT)[1])
                except mpsc.RecvError:
                    pass
            return got

        takers = [Worker(take, rx1), Worker(take, rx2)]
        index, _ = selector.join()
        stop_tx.close()
        taken = [value for taker in takers for value in taker.join()]
        left = list(rx1.try_iter()) + list(rx2.try_iter())
        landed = [value for value in taken + left if value in ("a", "b")]
        assert landed == [("a", "b")[index]]
        assert sorted(value for value in taken + left if value not in ("a", "b")) == sorted(
            [("old", 1, i) for i in range(cap)] + [("old", 2, i) for i in range(cap)]
        )
        assert idle(tx1, tx2, stop_rx)


@pytest.mark.parametrize("cap", CAPS, ids=CAP_IDS)
def test_a_select_receiving_from_two_channels_takes_exactly_one(
    cap: int | None, fast_switching: None
) -> None:
    # The select is parked on two empty channels; values arrive on both at once. It takes one;
    # the other stays for the next receiver (on a rendezvous channel: with its sender).
    for _ in range(150):
        (tx1, rx1), (tx2, rx2) = make(cap), make(cap)
        stop_tx, stop_rx = mpsc.channel()
        selector = Worker(lambda: mpsc.select(rx1, rx2, timeout=WAIT))
        wait_until(lambda: blocked_receivers(rx1) == 1 and blocked_receivers(rx2) == 1)

        def give(tx: mpsc.Sender[Any], value: str) -> bool:
            try:
                index, _ = mpsc.select((tx, value), stop_rx, timeout=WAIT)
            except mpsc.RecvError:
                return False
            return index == 0

        givers = [Worker(give, tx1, "a"), Worker(give, tx2, "b")]
        index, value = selector.join()
        assert value == ("a", "b")[index]
        if cap == 0:  # the loser waits for a receiver that never comes: stop it
            stop_tx.close()
        delivered = [giver.join() for giver in givers]
        stop_tx.close()
        left = list(rx1.try_iter()) + list(rx2.try_iter())
        if cap == 0:
            assert delivered.count(True) == 1
            assert left == []
        else:
            assert delivered == [True, True]
            assert left == [("b", "a")[index]]
        assert idle(rx1, rx2, stop_rx)


@pytest.mark.parametrize("mode", ["block=False", "timeout=0"])
@pytest.mark.parametrize("cap", [1, None], ids=CAP_IDS[1:])
def test_try_select_is_linearizable(cap: int | None, mode: str, fast_switching: None) -> None:
    # crossbeam select.rs linearizable_try / linearizable_timeout (and Go
    # TestNonblockSelectRace): after s1.send(1) returned, a non-blocking select over r1 and r2
    # must not come back empty while the other thread sends on s2 *before* it takes from r1:
    # at every instant one of the two channels holds a value.
    rounds = 5000
    start_tx, start_rx = mpsc.sync_channel(0)
    end_tx, end_rx = mpsc.sync_channel(0)
    s1, r1 = make(cap)
    s2, r2 = make(cap)

    def other() -> None:
        rng = random.Random(3)
        for _ in range(rounds):
            start_rx.recv_timeout(WAIT)
            for _ in range(rng.randrange(100)):  # vary where the two steps land
                pass
            s2.send_timeout(1, WAIT)
            try:
                r1.try_recv()
            except mpsc.Empty:
                pass
            end_rx.recv_timeout(WAIT)

    helper = Worker(other)
    empty = 0
    for _ in range(rounds):
        start_tx.send_timeout(None, WAIT)
        s1.send(1)
        try:
            if mode == "block=False":
                mpsc.select(r1, r2, block=False)
            else:
                mpsc.select(r1, r2, timeout=0)
        except (mpsc.Empty, mpsc.Timeout):
            empty += 1
        end_tx.send_timeout(None, WAIT)
        try:
            r2.try_recv()
        except mpsc.Empty:
            pass
    helper.join()
    assert empty == 0, f"{empty} of {rounds} non-blocking selects saw nothing ready"


@pytest.mark.parametrize("mode", ["block=False", "timeout=0"])
def test_try_select_sees_a_channel_that_disconnects_as_the_value_goes(
    mode: str, fast_switching: None
) -> None:
    # Go TestNonblockSelectRace2: c1 holds a value; the other thread closes c2's only sender
    # and then takes the value. At every instant one operation can complete (a disconnected
    # channel completes a receive at once, with RecvError): a non-blocking select must never
    # say Empty. (In the other order there is an instant when neither can: Empty is right then.)
    rounds = 3000
    start_tx, start_rx = mpsc.sync_channel(0)
    end_tx, end_rx = mpsc.sync_channel(0)
    work_tx, work_rx = mpsc.channel()

    def other() -> None:
        rng = random.Random(5)
        for r1, s2 in work_rx:
            start_rx.recv_timeout(WAIT)
            for _ in range(rng.randrange(100)):  # vary where the two steps land
                pass
            s2.close()
            try:
                r1.try_recv()
            except mpsc.Empty:
                pass
            end_rx.recv_timeout(WAIT)

    helper = Worker(other)
    pace = random.Random(7)
    empty = 0
    outcomes: Counter[Any] = Counter()
    for _ in range(rounds):
        s1, r1 = mpsc.bounded(1)
        s2, r2 = mpsc.bounded(0)
        s1.send(1)
        work_tx.send((r1, s2))
        start_tx.send_timeout(None, WAIT)
        for _ in range(pace.randrange(100)):  # and where the select lands among them
            pass
        try:
            if mode == "block=False":
                outcomes[mpsc.select(r1, r2, block=False)] += 1
            else:
                outcomes[mpsc.select(r1, r2, timeout=0)] += 1
        except mpsc.RecvError as gone:
            outcomes["RecvError", gone.index] += 1
        except (mpsc.Empty, mpsc.Timeout):
            empty += 1
        end_tx.send_timeout(None, WAIT)
    work_tx.close()
    helper.join()
    assert empty == 0, f"{empty} of {rounds} non-blocking selects saw nothing ready"
    assert set(outcomes) <= {(0, 1), ("RecvError", 1)}


@pytest.mark.parametrize("cap", [1, 0])
def test_try_select_raises_for_a_channel_that_disconnected_during_its_last_look(
    cap: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same, forced (the pure pass: its last look queues on every channel, then gives up):
    the only sender of the second channel leaves while the select queues on the first. Before
    the fix the select reported Empty."""
    s1, r1 = mpsc.bounded(cap)
    s2, r2 = mpsc.channel()
    queued = [0]
    original = _core.Chan.enqueue_locked

    def enqueue_then_disconnect(chan: Any, entry: Any) -> None:
        original(chan, entry)
        queued[0] += 1
        if chan is r1._chan:  # the other channel's last sender goes, under no lock of ours
            threading.Thread(target=s2.close).start()
            wait_until(lambda: r2._chan.tx_gone)

    monkeypatch.setattr(_select, "PASS", None)
    monkeypatch.setattr(_core.Chan, "enqueue_locked", enqueue_then_disconnect)
    monkeypatch.setattr(_ops, "_rotation", lambda n: range(n))  # r1 first, then r2
    with pytest.raises(mpsc.RecvError) as gone:
        mpsc.select(r1, r2, block=False)
    assert gone.value.index == 1
    del s1


@pytest.mark.parametrize("mode", ["block=False", "timeout=0"])
def test_try_select_is_linearizable_deterministic_interleaving(
    mode: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The same property with the interleaving forced: the first time the select looks at r2
    # (empty), another thread runs to completion: it sends on s2, then takes r1's value. r1
    # or r2 held a value at every instant of the select, so it must not report Empty.
    original = type(mpsc.channel()[1]._chan).poll
    trials = 24
    reports: list[str] = []
    for _ in range(trials):
        s1, r1 = mpsc.channel()
        s2, r2 = mpsc.channel()
        s1.send("one")
        fired: list[bool] = []

        def poll(chan: Any, s2: Any = s2, r1: Any = r1, r2: Any = r2, fired: list[bool] = fired) -> Any:
            result = original(chan)
            if chan is r2._chan and not fired:
                fired.append(True)
                Worker(lambda: (s2.send("two"), r1.try_recv())).join()
            return result

        monkeypatch.setattr(type(r1._chan), "poll", poll)
        try:
            if mode == "block=False":
                index, value = mpsc.select(r1, r2, block=False)
            else:
                index, value = mpsc.select(r1, r2, timeout=0)
            reports.append(f"{index}:{value}")
        except (mpsc.Empty, mpsc.Timeout) as exc:
            reports.append(type(exc).__name__)
        finally:
            monkeypatch.undo()
    failures = [report for report in reports if report not in ("0:one", "1:two")]
    assert failures == [], f"{len(failures)} of {trials} selects reported {failures[0]} with a value ready"


@pytest.mark.parametrize("cap", [0, 1, None], ids=CAP_IDS)
def test_select_async_cancelled_after_the_hand_off_keeps_the_value(cap: int | None) -> None:
    # DESIGN section 4.4 / select_async's docstring: cancelling is safe -- either it returns
    # (an operation had completed just before) or it raises CancelledError and no operation
    # took effect. Here a value is handed to the parked select, then the task is cancelled
    # before it ran again: the value must come out of the task or still be in the channel.
    async def main() -> tuple[Any, list[Any]]:
        tx, rx = make(cap)
        task = asyncio.ensure_future(mpsc.select_async(rx))
        for _ in range(1000):
            if blocked_receivers(rx):
                break
            await asyncio.sleep(0)
        assert blocked_receivers(rx) == 1
        tx.try_send("v")  # the parked select takes it (room, or a waiting receiver)
        task.cancel()
        try:
            result = await task
        except asyncio.CancelledError:
            result = "cancelled"
        return result, list(rx.try_iter())

    result, left = run_async(main())
    assert (result, left) in (((0, "v"), []), ("cancelled", ["v"])), (
        f"got {result!r} with {left!r} left in the channel: the value was lost"
    )


@pytest.mark.parametrize("cap", [0, 1], ids=CAP_IDS[:2])
def test_select_async_send_cancelled_after_the_hand_off_reports_it(cap: int) -> None:
    # The sending side: the parked send is completed by a receiver, then the task is
    # cancelled. Either the task returns (0, None), or it raises and "v" was not sent.
    async def main() -> tuple[Any, list[Any]]:
        tx, rx = make(cap)
        for i in range(cap):
            tx.send(("old", i))
        task = asyncio.ensure_future(mpsc.select_async((tx, "v")))
        for _ in range(1000):
            if blocked_senders(tx):
                break
            await asyncio.sleep(0)
        assert blocked_senders(tx) == 1
        taken = rx.try_recv()  # frees room / pairs with the parked send
        task.cancel()
        try:
            result = await task
        except asyncio.CancelledError:
            result = "cancelled"
        return result, [taken, *rx.try_iter()]

    result, got = run_async(main())
    olds = [("old", i) for i in range(cap)]
    assert (result, got) in (((0, None), [*olds, "v"]), ("cancelled", olds)), (
        f"task {result!r}, channel delivered {got!r}"
    )


def test_select_async_cancelled_while_parked_leaves_channels_untouched() -> None:
    async def main() -> None:
        channels = [make(cap) for cap in CAPS]
        full_tx, full_rx = mpsc.sync_channel(1)
        full_tx.send("filler")
        operations = [rx for _, rx in channels] + [(full_tx, "x")]
        task = asyncio.ensure_future(mpsc.select_async(*operations))
        for _ in range(1000):
            if blocked_senders(full_tx):
                break
            await asyncio.sleep(0)
        assert all(blocked_receivers(rx) == 1 for _, rx in channels)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert idle(*(rx for _, rx in channels), full_tx)
        assert list(full_rx.try_iter()) == ["filler"]
        full_tx.send("filler")
        channels[1][0].send("later")
        assert await mpsc.select_async(*operations, timeout=WAIT) == (1, "later")

    run_async(main())


@pytest.mark.parametrize("cap", CAPS, ids=CAP_IDS)
def test_select_async_woken_by_a_thread_transfers_in_order(cap: int | None) -> None:
    n = 300
    tx, rx = make(cap)
    quiet_tx, quiet_rx = mpsc.channel()

    def produce() -> None:
        with tx:
            for i in range(n):
                tx.send_timeout(i, WAIT)

    async def consume() -> list[int]:
        got = []
        while True:
            try:
                index, value = await mpsc.select_async(quiet_rx, rx, timeout=WAIT)
            except mpsc.RecvError as gone:
                assert gone.index == 1
                return got
            assert index == 1
            got.append(value)

    producer = Worker(produce)
    assert run_async(consume()) == list(range(n))
    producer.join()
    assert idle(rx, quiet_rx)


def test_select_async_timeout_empty_and_no_operations() -> None:
    async def main() -> None:
        tx, rx = mpsc.channel()
        with pytest.raises(mpsc.Empty):
            await mpsc.select_async(rx, block=False)
        start = time.monotonic()
        with pytest.raises(mpsc.Timeout):
            await mpsc.select_async(rx, timeout=0.05)
        assert time.monotonic() - start >= 0.05
        with pytest.raises(ValueError):
            await mpsc.select_async()
        with pytest.raises(mpsc.Timeout):
            await mpsc.select_async(timeout=0.01)
        tx.close()
        with pytest.raises(mpsc.RecvError) as info:
            await mpsc.select_async(mpsc.never(), rx)
        assert info.value.index == 1
        assert idle(rx)

    run_async(main())


# -- fairness ----------------------------------------------------------------------------------


@pytest.mark.parametrize("padding", [2, 6])
def test_select_fairness_between_two_ready_channels(padding: int) -> None:
    # Go TestSelectFairness: two channels always ready, plus never-ready rendezvous channels,
    # 10 000 selects. Each ready one should win half of them: Binomial(10 000, 1/2) has a
    # standard deviation of 50; allow 6 of them (a false failure: odds about 2e-9).
    trials = 10_000
    tx1, rx1 = mpsc.sync_channel(trials + 1)
    tx2, rx2 = mpsc.channel()
    for i in range(trials + 1):
        tx1.send(i)
        tx2.send(i)
    empties = [mpsc.sync_channel(0) for _ in range(padding)]
    operations: list[Any] = [rx for _, rx in empties]
    operations.insert(1, rx1)
    operations.insert(padding, rx2)
    wins = Counter(mpsc.select(*operations, timeout=WAIT)[0] for _ in range(trials))
    assert set(wins) <= {1, padding}
    assert abs(wins[1] - trials / 2) <= 6 * 50, wins


@pytest.mark.parametrize("arms", [2, 5, 7])
def test_duplicate_arms_are_chosen_fairly(arms: int) -> None:
    # crossbeam fairness_duplicates: the same receiver in every arm; each arm wins about
    # 1/arms of the time (bound: 7 standard deviations), and values still come in order.
    trials = 10_000
    tx, rx = mpsc.channel()
    for i in range(trials):
        tx.send(i)
    results = [mpsc.select(*[rx] * arms, timeout=WAIT) for _ in range(trials)]
    assert [value for _, value in results] == list(range(trials))
    wins = Counter(index for index, _ in results)
    p = 1 / arms
    sd = math.sqrt(trials * p * (1 - p))
    for arm in range(arms):
        assert abs(wins[arm] - trials * p) <= 7 * sd, wins
    # The same for duplicate send arms.
    stx, srx = mpsc.channel()
    wins = Counter(mpsc.select(*[(stx, arm) for arm in range(arms)], timeout=WAIT)[0] for _ in range(trials))
    assert Counter(srx.try_iter()) == wins
    for arm in range(arms):
        assert abs(wins[arm] - trials * p) <= 7 * sd, wins


@pytest.mark.parametrize("cap", CAPS, ids=CAP_IDS)
def test_pseudo_random_send(cap: int | None) -> None:
    # Go TestPseudoRandomSend: a select with two send arms to one channel sends 1 or 0 about
    # equally often, whether the receiver waits already or comes later.
    n = 2000
    tx, rx = make(cap)

    def receive() -> list[int]:
        return [rx.recv_timeout(WAIT) for _ in range(n)]

    receiver = Worker(receive)
    for _ in range(n):
        mpsc.select((tx, 1), (tx, 0), timeout=WAIT)
    got = receiver.join()
    ones = sum(got)
    assert len(got) == n
    assert abs(ones - n / 2) <= 7 * math.sqrt(n) / 2, ones  # 7 standard deviations


def test_select_chooses_fairly_between_a_send_and_a_receive() -> None:
    trials = 10_000
    tx, rx = mpsc.channel()
    for i in range(trials):
        tx.send(i)
    out_tx, out_rx = mpsc.channel()
    wins = Counter(mpsc.select(rx, (out_tx, "x"))[0] for _ in range(trials))
    assert abs(wins[0] - trials / 2) <= 6 * 50, wins
    assert len(out_rx) == wins[1]
    assert len(rx) == trials - wins[0]


# -- more crossbeam stress shapes --------------------------------------------------------------


def test_stress_recv_alternating_channels() -> None:
    # crossbeam stress_recv: r1 unbounded, r2 bounded(5); a producer alternates between them
    # with acknowledgements; the select always takes the value from the right channel.
    n = 2000
    tx1, rx1 = mpsc.channel()
    tx2, rx2 = mpsc.sync_channel(5)
    ack_tx, ack_rx = mpsc.sync_channel(0)

    def produce() -> None:
        for i in range(n):
            (tx1 if i % 2 == 0 else tx2).send_timeout(i, WAIT)
            ack_rx.recv_timeout(WAIT)

    producer = Worker(produce)
    for i in range(n):
        assert mpsc.select(rx1, rx2, timeout=WAIT) == (i % 2, i)
        ack_tx.send_timeout(None, WAIT)
    producer.join()
    assert idle(rx1, rx2, ack_rx)


def test_stress_mixed_send_and_receive_on_rendezvous(fast_switching: None) -> None:
    # crossbeam stress_mixed: select {receive r1, send s2} on rendezvous channels against a
    # peer that alternately sends on s1 and receives from r2.
    n = 1000
    s1, r1 = mpsc.sync_channel(0)
    s2, r2 = mpsc.sync_channel(0)

    def peer() -> list[Any]:
        got = []
        for i in range(n):
            s1.send_timeout(i, WAIT)
            got.append(r2.recv_timeout(WAIT))
        return got

    helper = Worker(peer)
    received = []
    sent = 0
    while len(received) < n or sent < n:
        operations: list[Any] = []
        if len(received) < n:
            operations.append(r1)
        if sent < n:
            operations.append((s2, sent))
        index, value = mpsc.select(*operations, timeout=WAIT)
        if operations[index] is r1:
            received.append(value)
        else:
            sent += 1
    assert received == list(range(n))
    assert helper.join() == list(range(n))
    assert idle(r1, r2)


# -- Select ------------------------------------------------------------------------------------


def test_select_builder_indices_are_stable_and_never_reused() -> None:
    tx1, rx1 = mpsc.channel()
    tx2, rx2 = mpsc.channel()
    full_tx, full_rx = mpsc.sync_channel(1)
    full_tx.send("filler")
    sel = mpsc.Select(rx1)
    assert sel.recv(rx2) == 1
    assert sel.send(full_tx, "x") == 2
    assert sel.add(rx1) == 3  # a channel may appear twice
    assert sel.add((full_tx, "y")) == 4
    assert len(sel) == 5
    assert 1 in sel
    sel.remove(1)
    assert 1 not in sel
    assert len(sel) == 4
    with pytest.raises(ValueError):
        sel.remove(1)
    with pytest.raises(ValueError):
        sel.remove(99)
    with pytest.raises(ValueError):
        sel.remove(-1)
    assert sel.recv(rx2) == 5  # not 1 again
    with pytest.raises(mpsc.Empty):
        sel.try_select()
    tx2.send("two")
    assert sel.try_select() == (5, "two")
    tx1.send("one")
    index, value = sel.select(timeout=WAIT)
    assert (index, value) in ((0, "one"), (3, "one"))
    assert full_rx.try_recv() == "filler"
    index, value = sel.select(timeout=WAIT)
    assert (index, value) in ((2, None), (4, None))
    assert full_rx.try_recv() == ("x" if index == 2 else "y")
    assert "Select" in repr(sel)
    assert idle(rx1, rx2, full_tx)


def test_empty_select_builder() -> None:
    sel = mpsc.Select()
    assert len(sel) == 0
    with pytest.raises(ValueError):
        sel.select()
    with pytest.raises(mpsc.Empty):
        sel.try_select()
    start = time.monotonic()
    with pytest.raises(mpsc.Timeout):
        sel.select(timeout=0.05)
    assert time.monotonic() - start >= 0.05
    tx, rx = mpsc.channel()
    index = sel.recv(rx)
    sel.remove(index)
    with pytest.raises(ValueError):  # empty again
        sel.select()


def test_select_builder_timeout_and_async() -> None:
    tx1, rx1 = mpsc.channel()
    tx2, rx2 = mpsc.sync_channel(0)
    sel = mpsc.Select(rx1, rx2)
    with pytest.raises(mpsc.Timeout):
        sel.select(timeout=0.02)
    assert idle(rx1, rx2)

    async def main() -> None:
        with pytest.raises(mpsc.Timeout):
            await sel.select_async(timeout=0.02)
        with pytest.raises(mpsc.Empty):
            await sel.select_async(block=False)
        peer = Worker(tx2.send_timeout, "two", WAIT)
        assert await sel.select_async(timeout=WAIT) == (1, "two")
        peer.join()

    run_async(main())
    assert idle(rx1, rx2)


def test_select_loop_removes_channels_as_they_disconnect(fast_switching: None) -> None:
    caps: list[int | None] = [None, 1, 0, 2, None]
    per = 200
    sel = mpsc.Select()
    owner: dict[int, int] = {}
    producers = []

    def produce(tx: mpsc.Sender[Any], p: int) -> None:
        with tx:
            for i in range(per):
                tx.send_timeout((p, i), WAIT)

    for p, cap in enumerate(caps):
        tx, rx = make(cap)
        owner[sel.recv(rx)] = p
        producers.append(Worker(produce, tx, p))
    got: dict[int, list[Any]] = {p: [] for p in range(len(caps))}
    removed = []
    while len(sel):
        try:
            index, value = sel.select(timeout=WAIT)
        except mpsc.RecvError as gone:
            assert gone.index is not None
            sel.remove(gone.index)
            removed.append(owner[gone.index])
            continue
        got[owner[index]].append(value)
    for producer in producers:
        producer.join()
    assert sorted(removed) == list(range(len(caps)))
    for p in range(len(caps)):
        assert got[p] == [(p, i) for i in range(per)]


def test_one_select_builder_shared_by_many_threads() -> None:
    # crossbeam sync_and_clone: one Select of {receive, send} on a rendezvous channel used by
    # 20 threads at once; they pair off.
    threads = 20
    tx, rx = mpsc.sync_channel(0)
    sel = mpsc.Select(rx, (tx, "v"))
    results = run_all(*[lambda: sel.select(timeout=WAIT) for _ in range(threads)])
    assert sorted(results, key=repr) == sorted([(0, "v")] * 10 + [(1, None)] * 10, key=repr)
    assert idle(rx)


def test_select_builder_add_from_several_threads_gives_distinct_indices(fast_switching: None) -> None:
    # Select's docstring: "One Select may be used by several threads at once". Indices are
    # never reused, so threads adding at once must get distinct indices, and every
    # operation added must be there.
    tx, rx = mpsc.channel()
    sel = mpsc.Select()
    per_thread = 20_000
    threads = 4
    got = run_all(*[lambda: [sel.add(rx) for _ in range(per_thread)] for _ in range(threads)])
    indices = [index for mine in got for index in mine]
    duplicates = len(indices) - len(set(indices))
    assert duplicates == 0, f"{duplicates} indices handed out twice"
    assert len(sel) == threads * per_thread


def test_select_builder_selects_while_another_thread_adds_and_removes(fast_switching: None) -> None:
    # "each call works on the operations present when it starts": a select must not fail
    # because another thread changed the set of operations meanwhile.
    lanes = [mpsc.channel() for _ in range(8)]
    sel = mpsc.Select(*[rx for _, rx in lanes])
    stop = threading.Event()

    def churn() -> int:
        rounds = 0
        while not stop.is_set():
            sel.remove(sel.add(lanes[0][1]))
            rounds += 1
        return rounds

    churner = Worker(churn)
    errors: list[BaseException] = []
    try:
        for _ in range(20_000):
            try:
                sel.try_select()
            except mpsc.Empty:
                pass
            except RuntimeError as error:
                errors.append(error)
    finally:
        stop.set()
    assert churner.join() > 0
    assert errors == [], f"{len(errors)} selects failed, e.g. {errors[0]!r}"
    assert len(sel) == 8


def test_select_builder_reused_many_times() -> None:
    tx, rx = mpsc.sync_channel(1)
    sel = mpsc.Select(rx)
    peer = Worker(lambda: [tx.send_timeout(i, WAIT) for i in range(5000)])
    assert [sel.select(timeout=WAIT)[1] for _ in range(5000)] == list(range(5000))
    peer.join()
    assert idle(rx)


# -- deregistration: no entry left behind, no memory growth -------------------------------------


@pytest.mark.parametrize("how", ["value", "send", "timeout", "disconnect", "closed handle"])
def test_a_finished_select_leaves_no_entry_on_any_channel(how: str) -> None:
    (u_tx, u_rx), (b_tx, b_rx), (r_tx, r_rx) = make(None), make(1), make(0)
    full_tx, full_rx = mpsc.sync_channel(1)
    full_tx.send("filler")
    z_tx, z_rx = mpsc.sync_channel(0)
    operations = [u_rx, b_rx, r_rx, (full_tx, "f"), (z_tx, "z"), mpsc.never()]
    timeout = 0.3 if how == "timeout" else WAIT
    selector = Worker(lambda: mpsc.select(*operations, timeout=timeout))
    if how != "timeout":  # (a select timing out has always queued itself first)
        wait_until(
            lambda: (
                all(blocked_receivers(rx) == 1 for rx in (u_rx, b_rx, r_rx))
                and blocked_senders(full_tx) == 1
                and blocked_senders(z_tx) == 1
            )
        )
    if how == "value":
        b_tx.send("b")
        assert selector.join() == (1, "b")
    elif how == "send":
        assert full_rx.recv_timeout(WAIT) == "filler"
        assert selector.join() == (3, None)
        assert full_rx.try_recv() == "f"
    elif how == "timeout":
        with pytest.raises(mpsc.Timeout):
            selector.join()
    elif how == "disconnect":
        r_tx.close()
        with pytest.raises(mpsc.RecvError) as info:
            selector.join()
        assert info.value.index == 2
    else:
        u_rx.close()
        with pytest.raises(mpsc.ClosedHandleError):
            selector.join()
    assert idle(u_tx, b_rx, r_rx, full_tx, z_tx, operations[-1])


def _select_until_timeout(operations: list[Any], iterations: int, timeout: float) -> None:
    for _ in range(iterations):
        try:
            mpsc.select(*operations, timeout=timeout)
        except mpsc.Timeout:
            pass
        else:
            raise AssertionError("a channel that never fires fired")


def mpsc_traced_bytes() -> int:
    """Bytes traced as allocated by mpsc's own code and still alive: threads left over from
    other tests may allocate meanwhile, and would make a process-wide count flaky."""
    package = os.path.dirname(mpsc.__file__)
    snapshot = tracemalloc.take_snapshot().filter_traces([tracemalloc.Filter(True, f"{package}{os.sep}*")])
    return sum(stat.size for stat in snapshot.statistics("filename"))


def _parked_select_memory(
    monkeypatch: pytest.MonkeyPatch, iterations: int, timeout: float, many: bool
) -> None:
    """Selects over channels that never fire, each parking and timing out; traced memory must
    not grow with the number of iterations, and the selects must really have queued themselves.

    ``timeout`` must exceed the time a select takes to look at its operations under tracemalloc
    (tens of microseconds), or it expires before queuing anything.
    """
    (_u_tx, u_rx), (_b_tx, b_rx), (_r_tx, r_rx) = make(None), make(1), make(0)
    full_tx, full_rx = mpsc.sync_channel(1)
    full_tx.send("filler")
    z_tx, z_rx = mpsc.sync_channel(0)
    timers = [mpsc.never(), mpsc.after(1e9)]
    if many:
        operations = [u_rx, b_rx, r_rx, (full_tx, "f"), (z_tx, "z"), *timers]
    else:
        operations = [u_rx, r_rx, (z_tx, "z")]
    channel_operations = len(operations) - (2 if many else 0)
    registrations = [0]
    original = _core.Chan.enqueue_locked

    def counting(chan: Any, entry: Any) -> None:
        registrations[0] += 1
        original(chan, entry)

    monkeypatch.setattr(_core.Chan, "enqueue_locked", counting)
    _select_until_timeout(operations, 500, timeout)  # warm up caches and free lists
    gc.collect()
    tracemalloc.start()
    try:
        _select_until_timeout(operations, 500, timeout)
        gc.collect()
        before = mpsc_traced_bytes()
        registrations[0] = 0
        _select_until_timeout(operations, iterations, timeout)
        gc.collect()
        after = mpsc_traced_bytes()
    finally:
        tracemalloc.stop()
    # Every parked select queues one entry per channel operation (timers are not counted).
    assert registrations[0] >= 0.6 * channel_operations * iterations, registrations[0]
    # A leaked entry, waiter or queue slot per iteration would be hundreds of kilobytes here.
    assert after - before < 32 * 1024, f"traced memory grew by {after - before} bytes"
    assert idle(u_rx, b_rx, r_rx, full_tx, z_tx, *timers)
    assert list(full_rx.try_iter()) == ["filler"]


def test_parked_selects_deregister_and_memory_does_not_grow(monkeypatch: pytest.MonkeyPatch) -> None:
    _parked_select_memory(monkeypatch, 5000, 1e-4, many=True)


@pytest.mark.stress
@pytest.mark.timeout(1800)  # a few minutes: each select really sleeps, under tracemalloc
def test_a_million_parked_selects_do_not_grow_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    _parked_select_memory(monkeypatch, 10**6, 1e-4, many=False)


def parked_on_all_lanes(chans: list[Any]) -> None:
    deadline = time.monotonic() + WAIT
    while not all(live(chan.recvq) for chan in chans):
        assert time.monotonic() < deadline, "the select never parked"
        time.sleep(0)


def test_woken_selects_deregister_and_memory_does_not_grow(monkeypatch: pytest.MonkeyPatch) -> None:
    # Selects over four channels, each woken by another thread sending on one of them in turn.
    lanes = [make(cap) for cap in (None, 1, 0, 2)]
    receivers = [rx for _, rx in lanes]
    ack_tx, ack_rx = mpsc.sync_channel(0)
    lane_chans = [rx._chan for rx in receivers]
    registrations = [0]
    original = _core.Chan.enqueue_locked

    def counting(chan: Any, entry: Any) -> None:
        if not entry.sending and any(chan is lane for lane in lane_chans):  # the select's own
            registrations[0] += 1
        original(chan, entry)

    def feed(start: int, count: int) -> None:
        for i in range(start, start + count):
            parked_on_all_lanes(lane_chans)  # so that every select really queues and wakes
            lanes[i % 4][0].send_timeout(i, WAIT)
            ack_rx.recv_timeout(WAIT)

    def rounds(start: int, count: int) -> None:
        feeder = Worker(feed, start, count)
        for i in range(start, start + count):
            assert mpsc.select(*receivers, timeout=WAIT) == (i % 4, i)
            ack_tx.send_timeout(None, WAIT)
        feeder.join()

    monkeypatch.setattr(_core.Chan, "enqueue_locked", counting)
    rounds(0, 500)
    gc.collect()
    tracemalloc.start()
    try:
        rounds(500, 500)
        gc.collect()
        before = mpsc_traced_bytes()
        registrations[0] = 0
        rounds(1000, 4000)
        gc.collect()
        after = mpsc_traced_bytes()
    finally:
        tracemalloc.stop()
    # Every select parked, queued on all four lanes.
    assert registrations[0] >= 4 * 4000, registrations[0]
    assert after - before < 32 * 1024, f"traced memory grew by {after - before} bytes"
    assert idle(*receivers, ack_rx)


def test_blocking_select_inside_an_event_loop_is_refused() -> None:
    # A blocking select inside a running event loop would freeze it: refused, nothing queued.
    tx, rx = mpsc.channel()

    async def main() -> None:
        with pytest.raises(RuntimeError, match="select_async"):
            mpsc.select(rx, timeout=WAIT)

    run_async(main())
    assert idle(rx)
