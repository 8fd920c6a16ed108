"""The public surface of DESIGN.md §2: constructors, errors, introspection, ownership, bad input."""

from __future__ import annotations

import asyncio
import copy
import pickle
import queue
from typing import Any

import pytest
from helpers import WAIT, Worker, blocked_receivers, blocked_senders, wait_until

import mpsc

FLAVOURS = [
    pytest.param(mpsc.channel, id="channel"),
    pytest.param(mpsc.unbounded, id="unbounded"),
    pytest.param(lambda: mpsc.sync_channel(3), id="sync_channel(3)"),
    pytest.param(lambda: mpsc.bounded(1), id="bounded(1)"),
    pytest.param(lambda: mpsc.bounded(0), id="bounded(0)"),
]


# -- the exception hierarchy -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "bases"),
    [
        (mpsc.SendError, (mpsc.TrySendError, mpsc.SendTimeoutError, mpsc.ChannelError)),
        (mpsc.Full, (mpsc.TrySendError, queue.Full, mpsc.ChannelError)),
        (mpsc.RecvError, (mpsc.TryRecvError, mpsc.RecvTimeoutError, mpsc.ChannelError)),
        (mpsc.Empty, (mpsc.TryRecvError, queue.Empty, mpsc.ChannelError)),
        (
            mpsc.Timeout,
            (mpsc.RecvTimeoutError, mpsc.SendTimeoutError, TimeoutError, mpsc.ChannelError),
        ),
    ],
)
def test_error_hierarchy(error: type[Exception], bases: tuple[type[Exception], ...]) -> None:
    for base in bases:
        assert issubclass(error, base)


def test_errors_that_are_not_each_other() -> None:
    assert not issubclass(mpsc.Full, mpsc.SendTimeoutError)
    assert not issubclass(mpsc.Empty, mpsc.RecvTimeoutError)
    assert not issubclass(mpsc.RecvError, mpsc.TrySendError)
    assert not issubclass(mpsc.ClosedHandleError, mpsc.ChannelError)


def test_errors_carry_the_value_back_and_pickle() -> None:
    for error in (mpsc.SendError([1]), mpsc.Full([1]), mpsc.Timeout([1])):
        assert error.value == [1]
        assert error.index is None
        again = pickle.loads(pickle.dumps(error))
        assert type(again) is type(error)
        assert again.value == [1]
    assert mpsc.Timeout().value is None
    assert str(mpsc.SendError(1)) == "sending on a disconnected channel"
    assert "empty" in str(mpsc.Empty())
    assert type(pickle.loads(pickle.dumps(mpsc.RecvError()))) is mpsc.RecvError


def test_except_at_either_level() -> None:
    tx, rx = mpsc.sync_channel(1)
    with pytest.raises(queue.Empty):
        rx.try_recv()
    with pytest.raises(TimeoutError):
        rx.recv_timeout(0)
    tx.send(1)
    with pytest.raises(queue.Full):
        tx.try_send(2)
    with pytest.raises(mpsc.TrySendError) as info:
        tx.try_send(3)
    assert info.value.value == 3
    with pytest.raises(mpsc.SendTimeoutError) as timeout:
        tx.send_timeout(4, 0)
    assert timeout.value.value == 4
    rx.close()
    with pytest.raises(mpsc.TrySendError):
        tx.try_send(5)
    with pytest.raises(mpsc.SendTimeoutError):
        tx.send_timeout(6, 1)


# -- constructors and capacity ------------------------------------------------------------------


@pytest.mark.parametrize("bad", [-1, -100])
def test_negative_capacity(bad: int) -> None:
    with pytest.raises(ValueError, match=">= 0"):
        mpsc.sync_channel(bad)
    with pytest.raises(ValueError):
        mpsc.bounded(bad)


@pytest.mark.parametrize("bad", [1.0, 1.5, "3", None, True, False, [1]])
def test_capacity_must_be_an_int(bad: Any) -> None:
    with pytest.raises(TypeError):
        mpsc.sync_channel(bad)


def test_capacity_accepts_index_objects_and_huge_values() -> None:
    class Three:
        def __index__(self) -> int:
            return 3

    tx, rx = mpsc.sync_channel(Three())  # type: ignore[arg-type]
    assert tx.capacity == 3
    tx, rx = mpsc.bounded(10**18)  # permits are created lazily: no memory is reserved
    for i in range(5000):
        tx.send(i)
    assert len(rx) == 5000
    assert not tx.is_full()
    assert list(rx.try_iter()) == list(range(5000))


def test_capacity_property() -> None:
    assert mpsc.channel()[0].capacity is None
    assert mpsc.unbounded()[1].capacity is None
    assert mpsc.sync_channel(0)[0].capacity == 0
    for n in range(1, 10):
        tx, rx = mpsc.bounded(n)
        assert tx.capacity == rx.capacity == n


def test_sync_sender_is_sender() -> None:
    assert mpsc.SyncSender is mpsc.Sender
    tx, _ = mpsc.sync_channel(1)
    assert isinstance(tx, mpsc.SyncSender)


def test_generic_subscription_at_runtime() -> None:
    assert mpsc.Sender[int] is not None
    assert mpsc.Receiver[str] is not None
    assert mpsc.JoinHandle[int] is not None


# -- introspection ------------------------------------------------------------------------------


def test_len_empty_full_bounded() -> None:
    tx, rx = mpsc.bounded(2)
    for handle in (tx, rx):
        assert (len(handle), handle.is_empty(), handle.is_full()) == (0, True, False)
    tx.send(1)
    assert (len(rx), rx.is_empty(), rx.is_full()) == (1, False, False)
    tx.send(2)
    assert (len(tx), tx.is_empty(), tx.is_full()) == (2, False, True)
    rx.recv()
    assert (len(tx), tx.is_empty(), tx.is_full()) == (1, False, False)


def test_len_empty_full_rendezvous_and_unbounded() -> None:
    tx, rx = mpsc.bounded(0)
    assert (len(tx), tx.is_empty(), tx.is_full()) == (0, True, True)
    tx, rx = mpsc.channel()
    for i in range(100):
        tx.send(i)
    assert (len(rx), rx.is_empty(), rx.is_full()) == (100, False, False)


@pytest.mark.parametrize("make", FLAVOURS)
def test_handles_are_always_truthy(make: Any) -> None:
    tx, rx = make()
    assert tx and rx  # len() is 0, but a handle is not a container


@pytest.mark.parametrize("make", FLAVOURS)
def test_is_disconnected(make: Any) -> None:
    tx, rx = make()
    assert not tx.is_disconnected() and not rx.is_disconnected()
    tx2 = tx.clone()
    tx.close()
    assert not rx.is_disconnected()
    tx2.close()
    assert rx.is_disconnected()
    tx, rx = make()
    rx.close()
    assert tx.is_disconnected()


def test_same_channel() -> None:
    tx, rx = mpsc.channel()
    tx2, rx2 = mpsc.channel()
    assert tx.same_channel(rx) and rx.same_channel(tx) and tx.same_channel(tx.clone())
    assert rx.same_channel(rx.clone())
    assert not tx.same_channel(tx2) and not rx.same_channel(rx2)
    assert not mpsc.bounded(0)[0].same_channel(mpsc.bounded(0)[0])
    with pytest.raises(TypeError):
        tx.same_channel("not a handle")  # type: ignore[arg-type]


def test_repr_says_what_it_is() -> None:
    tx, rx = mpsc.bounded(16)
    tx.send(1)
    text = repr(tx)
    assert "Sender" in text and "bounded(16)" in text and "1 queued" in text
    assert "1 sender" in text and "1 receiver" in text
    tx2 = tx.clone()
    assert "2 senders" in repr(rx)
    assert "unbounded" in repr(mpsc.channel()[1])
    assert "bounded(0)" in repr(mpsc.bounded(0)[0])
    tx.close()
    tx2.close()
    assert "disconnected" in repr(rx)
    assert repr(tx) == "<mpsc.Sender (closed)>"
    assert "bounded(16)" in repr(rx._chan)


def test_repr_shows_blocked_operations() -> None:
    tx, rx = mpsc.bounded(1)
    tx.send(0)
    worker = Worker(tx.send_timeout, 1, WAIT)
    wait_until(lambda: blocked_senders(tx) == 1)
    assert "1 blocked sending" in repr(rx)
    rx.recv()
    worker.join()


# -- ownership: close, clone, with, closed handles ------------------------------------------


@pytest.mark.parametrize("make", FLAVOURS)
def test_close_is_idempotent_and_clones_stay_open(make: Any) -> None:
    tx, rx = make()
    tx2 = tx.clone()
    tx.close()
    tx.close()
    assert not rx.is_disconnected()
    with tx2:
        pass
    assert rx.is_disconnected()


def test_with_block_closes() -> None:
    tx, rx = mpsc.channel()
    with tx as same:
        assert same is tx
        tx.send(1)
    assert rx.recv_timeout(WAIT) == 1
    with pytest.raises(mpsc.RecvError):
        rx.recv_timeout(WAIT)
    with pytest.raises(mpsc.ClosedHandleError):
        with tx:
            pass


@pytest.mark.parametrize(
    "call",
    [
        lambda tx, rx: tx.send(1),
        lambda tx, rx: tx.try_send(1),
        lambda tx, rx: tx.send_timeout(1, 1),
        lambda tx, rx: tx.send_deadline(1, 0),
        lambda tx, rx: tx.clone(),
        lambda tx, rx: len(tx),
        lambda tx, rx: tx.is_empty(),
        lambda tx, rx: tx.is_full(),
        lambda tx, rx: tx.is_disconnected(),
        lambda tx, rx: tx.capacity,
        lambda tx, rx: tx.same_channel(rx),
        lambda tx, rx: rx.same_channel(tx),
    ],
)
@pytest.mark.parametrize("make", FLAVOURS)
def test_closed_sender_raises_a_clear_error(make: Any, call: Any) -> None:
    tx, rx = make()
    tx.close()
    with pytest.raises(mpsc.ClosedHandleError, match="closed"):
        call(tx, rx)


@pytest.mark.parametrize(
    "call",
    [
        lambda rx: rx.recv(),
        lambda rx: rx.try_recv(),
        lambda rx: rx.recv_timeout(1),
        lambda rx: rx.recv_deadline(0),
        lambda rx: next(iter(rx)),
        lambda rx: list(rx.try_iter()),
        lambda rx: rx.clone(),
        lambda rx: rx.is_disconnected(),
        lambda rx: len(rx),
    ],
)
@pytest.mark.parametrize("make", FLAVOURS)
def test_closed_receiver_raises_a_clear_error(make: Any, call: Any) -> None:
    tx, rx = make()
    rx.close()
    with pytest.raises(mpsc.ClosedHandleError):
        call(rx)
    # and it is not mistaken for a disconnection: the Sender reports that separately
    assert tx.is_disconnected()


@pytest.mark.parametrize("cap", [None, 1, 0])
def test_closing_a_handle_wakes_only_calls_blocked_on_it(cap: int | None) -> None:
    tx, rx = mpsc.channel() if cap is None else mpsc.sync_channel(cap)
    other = rx.clone()
    blocked_here = Worker(rx.recv_timeout, WAIT)
    blocked_there = Worker(other.recv_timeout, WAIT)
    wait_until(lambda: blocked_receivers(rx) == 2)
    rx.close()
    with pytest.raises(mpsc.ClosedHandleError):
        blocked_here.join()
    assert not blocked_there.done.is_set()
    tx.send_timeout("for the other", WAIT)
    assert blocked_there.join() == "for the other"


def test_closing_a_sender_wakes_its_blocked_send() -> None:
    tx, rx = mpsc.sync_channel(0)
    keep = tx.clone()
    worker = Worker(tx.send_timeout, 1, WAIT)
    wait_until(lambda: blocked_senders(tx) == 1)
    tx.close()
    with pytest.raises(mpsc.ClosedHandleError):
        worker.join()
    with pytest.raises(mpsc.Empty):  # the value was not left behind
        rx.try_recv()
    keep.close()


def test_handles_refuse_pickle_and_copy() -> None:
    tx, rx = mpsc.channel()
    for handle in (tx, rx):
        with pytest.raises(TypeError, match="clone"):
            pickle.dumps(handle)
        with pytest.raises(TypeError):
            copy.copy(handle)
    tx.send(1)  # and nothing broke
    assert rx.recv() == 1


# -- timeouts and deadlines: bad input fails at the call and changes nothing --------------


@pytest.mark.parametrize(
    ("bad", "error"),
    [
        (float("nan"), ValueError),
        (-1, ValueError),
        (-0.001, ValueError),
        (float("-inf"), ValueError),
        (-(10**400), ValueError),  # too large for a float, and negative: not "wait forever"
        ("1", TypeError),
        (None, TypeError),
        (True, TypeError),
        ([1], TypeError),
        (1j, TypeError),
    ],
)
def test_bad_timeouts(bad: Any, error: type[Exception]) -> None:
    tx, rx = mpsc.sync_channel(2)
    tx.send("kept")
    with pytest.raises(error):
        rx.recv_timeout(bad)
    with pytest.raises(error):
        tx.send_timeout("not sent", bad)
    assert len(rx) == 1
    assert rx.recv() == "kept"
    assert rx.try_iter() is not None and list(rx.try_iter()) == []


@pytest.mark.parametrize(("bad", "error"), [(float("nan"), ValueError), ("soon", TypeError)])
def test_bad_deadlines(bad: Any, error: type[Exception]) -> None:
    tx, rx = mpsc.channel()
    with pytest.raises(error):
        rx.recv_deadline(bad)
    with pytest.raises(error):
        tx.send_deadline(1, bad)
    assert len(rx) == 0


@pytest.mark.parametrize(
    "huge", [1e300, 2**2000, float("inf"), 10**12], ids=["1e300", "2**2000", "inf", "1e12"]
)
def test_huge_timeouts_wait_forever_without_overflow(huge: Any) -> None:
    tx, rx = mpsc.channel()
    worker = Worker(rx.recv_timeout, huge)
    wait_until(lambda: blocked_receivers(rx) == 1)
    tx.send("late")
    assert worker.join() == "late"
    tx2, rx2 = mpsc.sync_channel(0)
    worker = Worker(tx2.send_timeout, "x", huge)
    wait_until(lambda: blocked_senders(tx2) == 1)
    assert rx2.recv_timeout(WAIT) == "x"
    worker.join()
    worker = Worker(rx.recv_deadline, float("inf"))
    wait_until(lambda: blocked_receivers(rx) == 1)
    tx.send("later")
    assert worker.join() == "later"


def test_a_deadline_too_far_in_the_past_for_a_float_has_passed() -> None:
    tx, rx = mpsc.channel()
    with pytest.raises(mpsc.Timeout):
        rx.recv_deadline(-(10**400))
    tx.send(1)
    assert rx.recv_deadline(-(10**400)) == 1


@pytest.mark.parametrize("bad", [None, 1, "chan", object()])
def test_handles_are_made_by_the_constructors_only(bad: Any) -> None:
    for cls in (mpsc.Sender, mpsc.Receiver):
        with pytest.raises(TypeError, match=r"mpsc\.channel"):
            cls(bad)  # no broken handle left behind for the collector to trip over


def test_deadline_in_the_past_still_takes_what_is_there() -> None:
    tx, rx = mpsc.channel()
    tx.send(1)
    assert rx.recv_deadline(-1e9) == 1
    with pytest.raises(mpsc.Timeout):
        rx.recv_deadline(0)
    tx2, _rx2 = mpsc.sync_channel(1)  # the Receiver is held: no disconnection
    tx2.send_deadline(1, 0)
    with pytest.raises(mpsc.Timeout) as info:
        tx2.send_deadline(2, 0)
    assert info.value.value == 2


def test_integer_and_float_timeouts() -> None:
    _tx, rx = mpsc.channel()  # the Sender is held: no disconnection
    with pytest.raises(mpsc.Timeout):
        rx.recv_timeout(0)
    with pytest.raises(mpsc.Timeout):
        rx.recv_timeout(0.001)
    from fractions import Fraction

    with pytest.raises(mpsc.Timeout):
        rx.recv_timeout(Fraction(1, 1000))  # any real number


# -- iteration ------------------------------------------------------------------------------------


def test_iteration_drains_then_stops_and_try_iter_never_blocks() -> None:
    tx, rx = mpsc.channel()
    assert iter(rx) is rx
    for i in range(5):
        tx.send(i)
    assert list(rx.try_iter()) == [0, 1, 2, 3, 4]
    assert list(rx.try_iter()) == []
    tx.send(5)
    assert list(rx.try_iter()) == [5]  # it can be used again later
    tx.send(6)
    tx.close()
    assert list(rx) == [6]
    assert list(rx) == []  # stays ended
    assert list(rx.try_iter()) == []


# -- blocking inside a running event loop is refused ------------------------------------------


def test_blocking_call_inside_event_loop_raises() -> None:
    tx, rx = mpsc.sync_channel(1)

    async def main() -> None:
        tx.send(1)  # does not block: fine
        assert rx.recv() == 1  # a value is there: fine
        with pytest.raises(RuntimeError, match="recv_async"):
            rx.recv()
        tx.send(2)
        with pytest.raises(RuntimeError, match="event loop"):
            tx.send(3)
        with pytest.raises(mpsc.Timeout):
            tx.send_timeout(3, 0)  # a zero timeout never blocks: no error

    asyncio.run(main())
    assert rx.recv() == 2
    assert list(rx.try_iter()) == []
