"""Model-based tests: channels driven by hypothesis against a plain reference model.

The model is what DESIGN.md §2 and §4 predict: a deque of buffered values, how many Sender and
Receiver handles are open, and the capacity (None unbounded, 0 rendezvous). Every value sent is
a fresh increasing int, so checking each received value against the model's oldest one checks
FIFO order and exactly-once delivery at once, and each error is compared exactly: its class
(``Full`` is not ``Timeout`` is not ``SendError``; ``Empty`` is not ``RecvError``) and the
value it hands back.

``ChannelMachine`` drives one channel from one thread: every call that cannot wait, and the
waiting ones only where the model says they return at once. ``BlockedPeerMachine`` adds a
helper thread, fed commands over a plain ``queue.Queue``, that parks in a bounded blocking
send or receive; the main thread then acts on the channel and the model predicts what the
parked peer gets back (a value, room, ``RecvError``, ``SendError`` with its value,
``ClosedHandleError``), or that it stays parked.

Each machine runs once per capacity: unbounded, 1, 2, 3 and 0.
"""

from __future__ import annotations

import functools
import gc
import queue
import sys
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from helpers import WAIT, blocked_receivers, blocked_senders, wait_until, watchdog
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

import mpsc

OK = "ok"
BLOCKS: Any = "would block"
MAX_HANDLES = 4  # open handles per side: enough for clones to matter, few enough to close them all
LONG = 5.0  # a timeout the model never expects to expire: if it does, the outcome is wrong
UNTIMED = frozenset({"send", "recv", "next"})  # the calls that could wait forever
SHORT = 0.002  # a timeout the model expects to expire (the main thread is idle meanwhile)

PICK = st.integers(min_value=0, max_value=7)  # which handle, modulo how many there are

Outcome = tuple[Any, Any]


def outcome(call: Callable[[], Any]) -> Outcome:
    """What ``call()`` did, as a comparable pair: ``(OK, result)`` or ``(exception class, value)``."""
    try:
        result = call()
    except mpsc.ClosedHandleError as exc:
        if "closed" not in str(exc):
            return ("unclear ClosedHandleError", str(exc))
        return (mpsc.ClosedHandleError, None)
    except mpsc.ChannelError as exc:
        if exc.index is not None:  # only select sets it
            return ("index set outside select", exc.index)
        return (type(exc), getattr(exc, "value", None))
    except StopIteration:
        return (StopIteration, None)
    return (OK, result)


@dataclass
class Pending:
    """The helper thread's operation, parked in the channel."""

    sending: bool
    handle: Any
    value: Any = None
    entry: Any = None  # white-box: its place in the wait queue, and the waiter it sleeps on,
    waiter: Any = None  # the same ones until it completes: a wake-up makes it wait anew


class Model:
    """The reference: buffered values, open handle counts, capacity, and a parked peer."""

    def __init__(self, cap: int | None) -> None:
        self.cap = cap
        self.buf: deque[int] = deque()
        self.senders = 1
        self.receivers = 1
        self.pending: Pending | None = None

    @property
    def tx_gone(self) -> bool:
        return self.senders == 0

    @property
    def rx_gone(self) -> bool:
        return self.receivers == 0

    def is_full(self) -> bool:
        return self.cap is not None and len(self.buf) >= self.cap

    def peer_receiving(self) -> bool:
        return self.pending is not None and not self.pending.sending

    def peer_sending(self) -> bool:
        return self.pending is not None and self.pending.sending

    def send_blocks(self) -> bool:
        return not self.rx_gone and not self.peer_receiving() and self.is_full()

    def recv_blocks(self) -> bool:
        return not self.buf and not self.peer_sending() and not self.tx_gone

    def send(self, value: int, mode: str) -> tuple[Outcome, Outcome | None]:
        """Send ``value``: what the call gives, and what a parked peer gets (None: no change).

        ``mode`` is what happens where it would have to wait: "try" raises Full, "zero" (a timeout
        of 0 or a past deadline) raises Timeout, "block" waits (BLOCKS; nothing changes).
        """
        if self.rx_gone:
            return (mpsc.SendError, value), None
        if self.peer_receiving():  # its recv waits on an empty channel: the value goes to it
            self.pending = None
            return (OK, None), (OK, value)
        if not self.is_full():
            self.buf.append(value)
            return (OK, None), None
        if mode == "try":
            return (mpsc.Full, value), None
        if mode == "zero":
            return (mpsc.Timeout, value), None
        return BLOCKS, None

    def recv(self, mode: str) -> tuple[Outcome, Outcome | None]:
        """Receive: what the call gives, and what a parked peer gets. ``mode`` as for send."""
        pending = self.pending
        if self.buf:
            value = self.buf.popleft()
            if pending is not None and pending.sending:  # full bounded: its value takes the room
                self.pending = None
                self.buf.append(pending.value)
                return (OK, value), (OK, None)
            return (OK, value), None
        if pending is not None and pending.sending:  # rendezvous: take it from the parked sender
            self.pending = None
            return (OK, pending.value), (OK, None)
        if self.tx_gone:
            return (mpsc.RecvError, None), None
        if mode == "try":
            return (mpsc.Empty, None), None
        if mode == "zero":
            return (mpsc.Timeout, None), None
        return BLOCKS, None

    def close(self, handle: Any, sender: bool) -> Outcome | None:
        """Release an open handle; what a parked peer gets (None: no change)."""
        pending = self.pending
        woken: Outcome | None = None
        if pending is not None and pending.handle is handle:  # the very handle it waits on
            self.pending = None
            woken = (mpsc.ClosedHandleError, None)
        if sender:
            self.senders -= 1
            if self.tx_gone and self.peer_receiving():
                self.pending = None
                woken = (mpsc.RecvError, None)
        else:
            self.receivers -= 1
            if self.rx_gone:
                self.buf.clear()  # dropped at once
                if pending is not None and self.peer_sending():
                    self.pending = None
                    woken = (mpsc.SendError, pending.value)
        return woken


def closed_sender_ops(tx: Any, value: int, other: Any) -> dict[str, Callable[[], Any]]:
    return {
        "send": lambda: tx.send(value),
        "try_send": lambda: tx.try_send(value),
        "send_timeout(0)": lambda: tx.send_timeout(value, 0),
        "send_timeout(LONG)": lambda: tx.send_timeout(value, LONG),
        "send_deadline": lambda: tx.send_deadline(value, time.monotonic() + LONG),
        "clone": tx.clone,
        "len": lambda: len(tx),
        "is_empty": tx.is_empty,
        "is_full": tx.is_full,
        "is_disconnected": tx.is_disconnected,
        "capacity": lambda: tx.capacity,
        "same_channel": lambda: tx.same_channel(other),
        "same_channel(closed)": lambda: other.same_channel(tx),
        "with": tx.__enter__,
    }


def closed_receiver_ops(rx: Any, other: Any) -> dict[str, Callable[[], Any]]:
    return {
        "recv": rx.recv,
        "next": lambda: next(rx),
        "try_recv": rx.try_recv,
        "recv_timeout(0)": lambda: rx.recv_timeout(0),
        "recv_timeout(LONG)": lambda: rx.recv_timeout(LONG),
        "recv_deadline": lambda: rx.recv_deadline(time.monotonic() + LONG),
        "try_iter": lambda: list(rx.try_iter()),
        "clone": rx.clone,
        "len": lambda: len(rx),
        "is_empty": rx.is_empty,
        "is_full": rx.is_full,
        "is_disconnected": rx.is_disconnected,
        "capacity": lambda: rx.capacity,
        "same_channel": lambda: rx.same_channel(other),
        "same_channel(closed)": lambda: other.same_channel(rx),
        "with": rx.__enter__,
    }


class ChannelMachine(RuleBasedStateMachine):
    """One channel, one thread: every outcome and every introspection result matches the model."""

    capacity: ClassVar[int | None] = None

    def __init__(self) -> None:
        super().__init__()
        self.model = Model(self.capacity)
        self.senders: list[Any] = []
        self.receivers: list[Any] = []
        self.closed: list[Any] = []
        self.last_value = 0
        self.other_tx, self.other_rx = mpsc.channel()

    @initialize(alias=st.booleans())
    def open_channel(self, alias: bool) -> None:
        cap = self.capacity
        if cap is None:
            tx, rx = mpsc.unbounded() if alias else mpsc.channel()
        else:
            tx, rx = mpsc.bounded(cap) if alias else mpsc.sync_channel(cap)
        assert type(tx) is mpsc.Sender
        assert type(rx) is mpsc.Receiver
        self.senders.append(tx)
        self.receivers.append(rx)

    # -- plumbing ------------------------------------------------------------------------------

    def fresh(self) -> int:
        self.last_value += 1
        return self.last_value

    def settle_peer(self, expected: Outcome | None) -> None:
        """Check what the parked peer got; one thread here, so the model never wakes one."""
        assert expected is None

    def release(self, handle: Any) -> Outcome | None:
        """Take an open handle out of the open lists and the model (before it is released)."""
        sender = isinstance(handle, mpsc.Sender)
        (self.senders if sender else self.receivers).remove(handle)
        return self.model.close(handle, sender)

    def call(self, how: str, call: Callable[[], Any]) -> Outcome:
        """``outcome(call)``, bounded even for the calls without a timeout of their own.

        Those (``send``, ``recv``, ``next``) are made only where the model says they return at
        once, or on a closed handle, where they must raise at once. Should one block after all,
        a watchdog closes every open handle after LONG seconds, which wakes it (disconnected),
        so that the test fails instead of hanging.
        """
        if how not in UNTIMED:
            return outcome(call)
        with watchdog(LONG, self.close_everything):
            return outcome(call)

    def close_everything(self) -> None:
        for handle in self.senders + self.receivers:
            handle.close()

    def droppable(self) -> list[Any]:
        """Open handles nothing else refers to (the helper thread's handle is excluded)."""
        pending = self.model.pending
        return [h for h in self.senders + self.receivers if pending is None or h is not pending.handle]

    # -- sending -------------------------------------------------------------------------------

    @precondition(lambda self: self.senders)
    @rule(pick=PICK, how=st.sampled_from(["try_send", "send_timeout(0)", "send_deadline(now)"]))
    def send_without_waiting(self, pick: int, how: str) -> None:
        tx = self.senders[pick % len(self.senders)]
        value = self.fresh()
        calls = {
            "try_send": lambda: tx.try_send(value),
            "send_timeout(0)": lambda: tx.send_timeout(value, 0),
            "send_deadline(now)": lambda: tx.send_deadline(value, time.monotonic()),
        }
        expected, peer = self.model.send(value, "try" if how == "try_send" else "zero")
        assert outcome(calls[how]) == expected
        self.settle_peer(peer)

    @precondition(lambda self: self.senders and not self.model.send_blocks())
    @rule(pick=PICK, how=st.sampled_from(["send", "send_timeout(LONG)", "send_deadline(LONG)"]))
    def send_that_cannot_wait(self, pick: int, how: str) -> None:
        tx = self.senders[pick % len(self.senders)]
        value = self.fresh()
        calls = {
            "send": lambda: tx.send(value),
            "send_timeout(LONG)": lambda: tx.send_timeout(value, LONG),
            "send_deadline(LONG)": lambda: tx.send_deadline(value, time.monotonic() + LONG),
        }
        expected, peer = self.model.send(value, "block")
        assert expected is not BLOCKS
        assert self.call(how, calls[how]) == expected
        self.settle_peer(peer)

    # -- receiving -----------------------------------------------------------------------------

    @precondition(lambda self: self.receivers)
    @rule(pick=PICK, how=st.sampled_from(["try_recv", "recv_timeout(0)", "recv_deadline(now)"]))
    def recv_without_waiting(self, pick: int, how: str) -> None:
        rx = self.receivers[pick % len(self.receivers)]
        calls = {
            "try_recv": rx.try_recv,
            "recv_timeout(0)": lambda: rx.recv_timeout(0),
            "recv_deadline(now)": lambda: rx.recv_deadline(time.monotonic()),
        }
        expected, peer = self.model.recv("try" if how == "try_recv" else "zero")
        assert outcome(calls[how]) == expected
        self.settle_peer(peer)

    @precondition(lambda self: self.receivers and not self.model.recv_blocks())
    @rule(pick=PICK, how=st.sampled_from(["recv", "recv_timeout(LONG)", "recv_deadline(LONG)", "next"]))
    def recv_that_cannot_wait(self, pick: int, how: str) -> None:
        rx = self.receivers[pick % len(self.receivers)]
        calls = {
            "recv": rx.recv,
            "recv_timeout(LONG)": lambda: rx.recv_timeout(LONG),
            "recv_deadline(LONG)": lambda: rx.recv_deadline(time.monotonic() + LONG),
            "next": lambda: next(iter(rx)),
        }
        expected, peer = self.model.recv("block")
        assert expected is not BLOCKS
        if how == "next" and expected[0] is mpsc.RecvError:
            expected = (StopIteration, None)  # iteration ends once disconnected and drained
        assert self.call(how, calls[how]) == expected
        self.settle_peer(peer)

    @precondition(lambda self: self.receivers)
    @rule(pick=PICK)
    def drain_with_try_iter(self, pick: int) -> None:
        self.drain(self.receivers[pick % len(self.receivers)])

    def drain(self, rx: Any) -> None:
        """Take everything there now with ``try_iter``: exactly the model's values, in order."""
        expected: list[int] = []
        woken: list[Outcome] = []
        while True:
            result, peer = self.model.recv("try")
            if peer is not None:
                woken.append(peer)
            if result[0] != OK:
                break
            expected.append(result[1])
        assert list(rx.try_iter()) == expected
        assert len(woken) <= 1
        self.settle_peer(woken[0] if woken else None)

    # -- ownership -----------------------------------------------------------------------------

    @precondition(lambda self: 0 < len(self.senders) < MAX_HANDLES)
    @rule(pick=PICK)
    def clone_sender(self, pick: int) -> None:
        tx = self.senders[pick % len(self.senders)]
        new = tx.clone()
        assert type(new) is mpsc.Sender
        assert new is not tx
        assert new.same_channel(tx)
        assert tx.same_channel(new)
        self.senders.append(new)
        self.model.senders += 1

    @precondition(lambda self: 0 < len(self.receivers) < MAX_HANDLES)
    @rule(pick=PICK)
    def clone_receiver(self, pick: int) -> None:
        rx = self.receivers[pick % len(self.receivers)]
        new = rx.clone()
        assert type(new) is mpsc.Receiver
        assert new is not rx
        assert new.same_channel(rx)
        self.receivers.append(new)
        self.model.receivers += 1

    @precondition(lambda self: self.senders and self.receivers)
    @rule(tx_pick=PICK, rx_pick=PICK)
    def compare_channels(self, tx_pick: int, rx_pick: int) -> None:
        tx = self.senders[tx_pick % len(self.senders)]
        rx = self.receivers[rx_pick % len(self.receivers)]
        assert tx.same_channel(rx)
        assert rx.same_channel(tx)
        assert not tx.same_channel(self.other_tx)
        assert not rx.same_channel(self.other_rx)
        assert not self.other_rx.same_channel(tx)

    @precondition(lambda self: self.senders or self.receivers or self.closed)
    @rule(pick=PICK, how=st.sampled_from(["close", "with", "close its whole side"]))
    def close_a_handle(self, pick: int, how: str) -> None:
        handles = self.senders + self.receivers + self.closed
        handle = handles[pick % len(handles)]
        if how == "close its whole side" and not any(handle is h for h in self.closed):
            side = self.senders if isinstance(handle, mpsc.Sender) else self.receivers
            for each in list(side):  # the last one disconnects the channel
                peer = self.release(each)
                each.close()
                self.closed.append(each)
                self.settle_peer(peer)
            assert not side
            return
        if any(handle is h for h in self.closed):
            handle.close()  # idempotent: releases nothing a second time
            return
        peer = self.release(handle)
        if how == "close":
            handle.close()
        else:
            with handle as entered:
                assert entered is handle
        self.closed.append(handle)
        self.settle_peer(peer)

    @precondition(lambda self: self.senders and self.model.cap and not self.model.rx_gone)
    @rule(pick=PICK)
    def fill_up(self, pick: int) -> None:
        self.fill(self.senders[pick % len(self.senders)])

    def fill(self, tx: Any) -> None:
        """try_send until the bounded channel is full: Full then carries the value not sent."""
        assert self.model.cap
        for _ in range(self.model.cap + 2):
            value = self.fresh()
            expected, peer = self.model.send(value, "try")
            assert outcome(functools.partial(tx.try_send, value)) == expected
            self.settle_peer(peer)
            if expected[0] is not OK:
                break
        assert expected == (mpsc.Full, value)
        assert tx.is_full()

    @precondition(lambda self: self.droppable() and len(self.senders + self.receivers + self.closed) > 1)
    @rule(pick=PICK)
    def drop_a_handle(self, pick: int) -> None:
        """Release a handle by dropping the last reference, as Rust drops it."""
        candidates = self.droppable()
        handle = candidates[pick % len(candidates)]
        del candidates
        peer = self.release(handle)
        ref = weakref.ref(handle)
        del handle  # the last reference: CPython releases it here
        if ref() is not None:  # free-threaded: a reference dropped by another thread merges later
            wait_until(lambda: gc.collect() >= 0 and ref() is None)
        self.settle_peer(peer)

    @precondition(lambda self: self.senders or self.receivers)
    @rule(side=st.booleans(), pick=PICK)
    def clone_for_a_with_block(self, side: bool, pick: int) -> None:
        handles = self.senders if side and self.senders else self.receivers or self.senders
        handle = handles[pick % len(handles)]
        with handle.clone() as extra:
            assert extra.same_channel(handle)
            assert len(extra) == len(self.model.buf)
        assert outcome(lambda: len(extra)) == (mpsc.ClosedHandleError, None)
        assert "closed" in repr(extra)

    @precondition(lambda self: any(isinstance(h, mpsc.Sender) for h in self.closed))
    @rule(pick=PICK, op=st.integers(min_value=0, max_value=15))
    def use_a_closed_sender(self, pick: int, op: int) -> None:
        closed = [h for h in self.closed if isinstance(h, mpsc.Sender)]
        tx = closed[pick % len(closed)]
        other = self.receivers[0] if self.receivers else self.other_rx
        ops = closed_sender_ops(tx, self.fresh(), other)
        name = sorted(ops)[op % len(ops)]
        assert self.call(name, ops[name]) == (mpsc.ClosedHandleError, None), name
        assert repr(tx) == "<mpsc.Sender (closed)>"
        assert bool(tx)

    @precondition(lambda self: any(isinstance(h, mpsc.Receiver) for h in self.closed))
    @rule(pick=PICK, op=st.integers(min_value=0, max_value=15))
    def use_a_closed_receiver(self, pick: int, op: int) -> None:
        closed = [h for h in self.closed if isinstance(h, mpsc.Receiver)]
        rx = closed[pick % len(closed)]
        other = self.senders[0] if self.senders else self.other_tx
        ops = closed_receiver_ops(rx, other)
        name = sorted(ops)[op % len(ops)]
        assert self.call(name, ops[name]) == (mpsc.ClosedHandleError, None), name
        assert repr(rx) == "<mpsc.Receiver (closed)>"
        assert bool(rx)

    # -- after every step ----------------------------------------------------------------------

    @invariant()
    def handles_agree_with_model(self) -> None:
        model = self.model
        for handle in self.senders + self.receivers:
            assert len(handle) == len(model.buf)
            assert handle.is_empty() == (not model.buf)
            assert handle.is_full() == model.is_full()
            assert handle.capacity == model.cap
        for tx in self.senders:
            assert tx.is_disconnected() == model.rx_gone
        for rx in self.receivers:
            assert rx.is_disconnected() == model.tx_gone

    def teardown(self) -> None:
        self.close_everything()


class Peer:
    """A helper thread running one call at a time, sent over ``commands``; outcomes come back."""

    def __init__(self) -> None:
        self.commands: queue.Queue[Callable[[], Any] | None] = queue.Queue()
        self.results: queue.Queue[Outcome] = queue.Queue()
        self.thread = threading.Thread(target=self._serve, name="model-peer", daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                call = self.commands.get(timeout=WAIT * 6)
            except queue.Empty:
                return
            if call is None:
                return
            try:
                result = outcome(call)
            except BaseException as exc:  # reported, so that the main thread fails clearly
                result = ("unexpected", repr(exc))
            del call  # hold no handle between commands (so that dropping one frees it)
            self.results.put(result)

    def submit(self, call: Callable[[], Any]) -> None:
        self.commands.put(call)

    def result(self) -> Outcome:
        try:
            return self.results.get(timeout=LONG * 2)
        except queue.Empty:
            raise AssertionError("the helper thread did not report back") from None

    def idle(self) -> bool:
        """Whether it has reported nothing yet that the test has not read."""
        return self.results.empty()

    def stop(self) -> None:
        self.commands.put(None)
        self.thread.join(WAIT)


class BlockedPeerMachine(ChannelMachine):
    """The same channel and rules, plus a helper thread that parks in a blocking send or recv.

    While the helper is parked, the main thread's rules run as before and the model says what
    each one does to the parked call: nothing (it stays parked), or completes it with a value,
    with room, or with an error; ``settle_peer`` then reads the helper's report and compares.
    """

    def __init__(self) -> None:
        super().__init__()
        self.peer = Peer()

    def settle_peer(self, expected: Outcome | None) -> None:
        if expected is None:
            assert self.peer.idle(), f"the helper returned {self.peer.result()} while it should wait"
        else:
            assert self.peer.result() == expected

    def await_parked(self, pending: Pending) -> None:
        """Wait until the helper's call sits in the wait queue and the channel lock is free."""
        handle = pending.handle
        chan = handle._chan
        count = blocked_senders if pending.sending else blocked_receivers
        wait_until(lambda: (count(handle) == 1 and not chan.lock.locked()) or not self.peer.idle())
        assert self.peer.idle(), f"the helper returned {self.peer.result()} instead of waiting"
        pending.entry = (chan.sendq if pending.sending else chan.recvq)[0]
        pending.waiter = pending.entry.waiter
        self.model.pending = pending

    @precondition(lambda self: self.model.pending is None and self.receivers)
    @rule(
        pick=PICK,
        how=st.sampled_from(["recv_timeout(LONG)", "recv_deadline(LONG)"]),
        drain_first=st.booleans(),
    )
    def helper_receives(self, pick: int, how: str, drain_first: bool) -> None:
        """The helper receives; on an empty connected channel it parks (the main thread can
        empty the channel first, checking what it takes)."""
        rx = self.receivers[pick % len(self.receivers)]
        if drain_first:
            self.drain(rx)
        calls = {
            "recv_timeout(LONG)": lambda: rx.recv_timeout(LONG),
            "recv_deadline(LONG)": lambda: rx.recv_deadline(time.monotonic() + LONG),
        }
        expected, peer = self.model.recv("block")
        assert peer is None
        self.peer.submit(calls[how])
        if expected is BLOCKS:
            self.await_parked(Pending(False, rx))
        else:
            assert self.peer.result() == expected

    @precondition(lambda self: self.model.pending is None and self.senders)
    @rule(
        pick=PICK,
        how=st.sampled_from(["send_timeout(LONG)", "send_deadline(LONG)"]),
        fill_first=st.booleans(),
    )
    def helper_sends(self, pick: int, how: str, fill_first: bool) -> None:
        """The helper sends; on a full bounded channel (rendezvous: no receiver waiting) it
        parks (the main thread can fill the channel first, checking each try_send)."""
        tx = self.senders[pick % len(self.senders)]
        if fill_first and self.model.cap and not self.model.rx_gone:
            self.fill(tx)
        value = self.fresh()
        calls = {
            "send_timeout(LONG)": lambda: tx.send_timeout(value, LONG),
            "send_deadline(LONG)": lambda: tx.send_deadline(value, time.monotonic() + LONG),
        }
        expected, peer = self.model.send(value, "block")
        assert peer is None
        self.peer.submit(calls[how])
        if expected is BLOCKS:
            self.await_parked(Pending(True, tx, value))
        else:
            assert self.peer.result() == expected

    @precondition(lambda self: self.model.pending is not None)
    @rule(how=st.sampled_from(["close", "with", "drop"]))
    def another_handle_comes_and_goes(self, how: str) -> None:
        """A clone of the parked call's handle is made and released: the call sleeps on."""
        pending = self.model.pending
        assert pending is not None
        extra = pending.handle.clone()
        if pending.sending:
            self.senders.append(extra)
            self.model.senders += 1
        else:
            self.receivers.append(extra)
            self.model.receivers += 1
        self.helper_parked_exactly_when_model_says()
        peer = self.release(extra)
        assert peer is None
        if how == "close":
            extra.close()
            self.closed.append(extra)
        elif how == "with":
            with extra:
                pass
            self.closed.append(extra)
        else:
            ref = weakref.ref(extra)
            del extra  # the last reference
            if ref() is not None:  # free-threaded: a reference dropped elsewhere merges later
                wait_until(lambda: gc.collect() >= 0 and ref() is None)
        self.settle_peer(peer)

    @precondition(lambda self: self.model.pending is None and self.receivers and not self.model.tx_gone)
    @rule(pick=PICK)
    def helper_recv_times_out(self, pick: int) -> None:
        rx = self.receivers[pick % len(self.receivers)]
        self.drain(rx)
        assert self.model.recv_blocks()
        self.peer.submit(lambda: rx.recv_timeout(SHORT))
        assert self.peer.result() == (mpsc.Timeout, None)

    @precondition(
        lambda self: (
            self.model.pending is None
            and self.senders
            and self.model.cap is not None
            and not self.model.rx_gone
        )
    )
    @rule(pick=PICK)
    def helper_send_times_out(self, pick: int) -> None:
        tx = self.senders[pick % len(self.senders)]
        if self.model.cap:
            self.fill(tx)
        assert self.model.send_blocks()
        value = self.fresh()
        self.peer.submit(lambda: tx.send_timeout(value, SHORT))
        assert self.peer.result() == (mpsc.Timeout, value)  # and nothing enqueued: see invariant

    @invariant()
    def helper_parked_exactly_when_model_says(self) -> None:
        assert self.peer.idle()
        pending = self.model.pending
        if pending is not None:
            # Still the very wait it parked in: nothing that the model says leaves it alone woke
            # it (a wake-up leaves the queue empty, or the helper waits again on a new waiter).
            chan = pending.handle._chan
            waiting = list(chan.sendq if pending.sending else chan.recvq)
            assert (
                waiting == [pending.entry]
                and pending.entry.waiter is pending.waiter
                and not pending.waiter.claims
            ), "the parked helper was woken although the model says nothing happened to it"
        for handle in self.senders + self.receivers:
            expect_senders = int(pending is not None and pending.sending)
            expect_receivers = int(pending is not None and not pending.sending)
            assert blocked_senders(handle) == expect_senders
            assert blocked_receivers(handle) == expect_receivers

    def teardown(self) -> None:
        try:
            super().teardown()  # closing every handle wakes a parked helper
        finally:
            self.peer.stop()


# About 35 s in all on two cores. The free-threaded build runs this file about half as fast, so
# it gets half the examples.
_SCALE = 1 if getattr(sys, "_is_gil_enabled", lambda: True)() else 2
SINGLE = settings(max_examples=200 // _SCALE, stateful_step_count=50, deadline=None)
THREADED = settings(max_examples=150 // _SCALE, stateful_step_count=50, deadline=None)


@SINGLE
class UnboundedMachine(ChannelMachine):
    capacity = None


@SINGLE
class Bounded1Machine(ChannelMachine):
    capacity = 1


@SINGLE
class Bounded2Machine(ChannelMachine):
    capacity = 2


@SINGLE
class Bounded3Machine(ChannelMachine):
    capacity = 3


@SINGLE
class RendezvousMachine(ChannelMachine):
    capacity = 0


@THREADED
class UnboundedPeerMachine(BlockedPeerMachine):
    capacity = None


@THREADED
class Bounded1PeerMachine(BlockedPeerMachine):
    capacity = 1


@THREADED
class Bounded2PeerMachine(BlockedPeerMachine):
    capacity = 2


@THREADED
class Bounded3PeerMachine(BlockedPeerMachine):
    capacity = 3


@THREADED
class RendezvousPeerMachine(BlockedPeerMachine):
    capacity = 0


TestUnbounded = UnboundedMachine.TestCase
TestBounded1 = Bounded1Machine.TestCase
TestBounded2 = Bounded2Machine.TestCase
TestBounded3 = Bounded3Machine.TestCase
TestRendezvous = RendezvousMachine.TestCase
TestUnboundedBlockedPeer = UnboundedPeerMachine.TestCase
TestBounded1BlockedPeer = Bounded1PeerMachine.TestCase
TestBounded2BlockedPeer = Bounded2PeerMachine.TestCase
TestBounded3BlockedPeer = Bounded3PeerMachine.TestCase
TestRendezvousBlockedPeer = RendezvousPeerMachine.TestCase
