"""The two implementations of the hot paths — pure Python and compiled (``_accel.c``) — and the
one switch between them (``mpsc._implementation``).

The whole suite runs against whichever is installed (CI runs it once as built and once with
``MPSC_PURE=1``). What is here: that the switch installs what it says, that the two agree on
every observable for random sequences of operations (hypothesis), and that the compiled steps
keep exact reference counts and leave no memory behind over a million operations.
"""

from __future__ import annotations

import gc
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from helpers import WAIT, Worker, memory_growth, wait_until
from hypothesis import given, settings
from hypothesis import strategies as st

import mpsc
from mpsc import _implementation

BUILT = _implementation.COMPILED is not None
IMPLEMENTATIONS = ["compiled", "pure"] if BUILT else ["pure"]


@pytest.fixture(params=IMPLEMENTATIONS)
def implementation(request: pytest.FixtureRequest) -> Iterator[str]:
    """Run a test with each implementation this build has, then put back the one installed."""
    before = _implementation.in_use()
    _implementation.use(request.param == "compiled")
    try:
        yield str(request.param)
    finally:
        _implementation.use(before == "compiled")


# -- the switch ---------------------------------------------------------------------------------


def test_the_switch_installs_what_it_says(implementation: str) -> None:
    assert _implementation.in_use() == implementation
    compiled = implementation == "compiled"
    assert ("_sent" in mpsc.Sender.__dict__) is compiled
    # Iteration is the C slot itself in the compiled implementation, a Python function otherwise.
    assert (type(mpsc.Receiver.__dict__["__next__"]).__name__ == "method_descriptor") is compiled
    for cls, name in [(mpsc.Sender, "send"), (mpsc.Sender, "try_send"), (mpsc.Receiver, "recv")]:
        method = cls.__dict__[name]
        assert method.__doc__ and method.__qualname__ == f"{cls.__name__}.{name}"
        assert (method is _implementation._PURE[cls, name]) is not compiled
    assert mpsc.Receiver.__next__.__doc__


def test_without_the_compiled_module_use_refuses_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_implementation, "COMPILED", None)
    with pytest.raises(RuntimeError, match="not built"):
        _implementation.use(True)


# -- the two agree ------------------------------------------------------------------------------

OPERATIONS = st.lists(
    st.sampled_from(
        [
            "send",
            "try_send",
            "recv",
            "try_recv",
            "next",
            "len",
            "is_empty",
            "is_full",
            "clone_tx",
            "close_tx",
            "clone_rx",
            "close_rx",
            "drop_tx",
        ]
    ),
    max_size=60,
)


def observe(cap: int | None, operations: list[str]) -> list[Any]:
    """Run ``operations`` on a new channel in this thread and record what each one shows: its
    result or the class (and carried value) of its error. A blocking call is made only where it
    cannot wait: a send with room (or no receiver left), a receive with a value (or no sender)."""
    tx, rx = mpsc.channel() if cap is None else mpsc.bounded(cap)
    chan = rx._chan
    senders, receivers = [tx], [rx]
    seen: list[Any] = []
    counter = 0
    for operation in operations:
        counter += 1
        sender, receiver = senders[-1], receivers[-1]
        try:
            if operation == "send":
                if cap is not None and len(receiver) >= cap and not sender.is_disconnected():
                    continue
                seen.append(sender.send(counter))
            elif operation == "try_send":
                seen.append(sender.try_send(counter))
            elif operation in ("recv", "next"):
                if receiver.is_empty() and not receiver.is_disconnected():
                    continue
                seen.append(receiver.recv() if operation == "recv" else next(iter(receiver), "end"))
            elif operation == "try_recv":
                seen.append(receiver.try_recv())
            elif operation == "len":
                seen.append(len(receiver))
            elif operation == "is_empty":
                seen.append(sender.is_empty())
            elif operation == "is_full":
                seen.append(receiver.is_full())
            elif operation == "clone_tx":
                senders.append(sender.clone())
            elif operation == "clone_rx":
                receivers.append(receiver.clone())
            elif operation == "close_tx":
                sender.close()
                if len(senders) > 1:
                    senders.pop()
            elif operation == "close_rx":
                receiver.close()
                if len(receivers) > 1:
                    receivers.pop()
            elif operation == "drop_tx" and len(senders) > 1:  # no close(): the collector's
                senders.pop()
                del sender
                gc.collect()
        except (mpsc.ChannelError, mpsc.ClosedHandleError) as error:
            seen.append((type(error).__name__, getattr(error, "value", None)))
    seen.append(("end", list(chan.buf), chan.senders, chan.receivers, chan.tx_gone, chan.rx_gone))
    return seen


@pytest.mark.skipif(not BUILT, reason="only one implementation was built here")
@settings(max_examples=300, deadline=None)
@given(cap=st.sampled_from([None, 1, 2, 5]), operations=OPERATIONS)
def test_the_compiled_and_the_pure_implementation_agree_on_everything_observable(
    cap: int | None, operations: list[str]
) -> None:
    before = _implementation.in_use()
    try:
        _implementation.use(True)
        compiled = observe(cap, operations)
        _implementation.use(False)
        pure = observe(cap, operations)
    finally:
        _implementation.use(before == "compiled")
    assert compiled == pure


# -- reference counts and memory ------------------------------------------------------------------


class Token:
    """A value whose references can be counted."""


def refs(obj: object) -> int:
    return sys.getrefcount(obj)


@pytest.mark.parametrize("cap", [None, 1, 3], ids=["unbounded", "bounded1", "bounded3"])
def test_values_sent_and_received_keep_exact_reference_counts(implementation: str, cap: int | None) -> None:
    tx, rx = mpsc.channel() if cap is None else mpsc.bounded(cap)
    token = Token()
    alone = refs(token)
    tx.send(token)
    assert refs(token) == alone + 1  # the buffer's
    assert rx.recv() is token
    assert refs(token) == alone
    tx.try_send(token)
    assert rx.try_recv() is token
    assert refs(token) == alone
    tx.send(token)
    for value in rx:
        assert value is token
        break
    del value
    assert refs(token) == alone
    if cap is not None:
        for _ in range(cap):
            tx.send(token)
        with pytest.raises(mpsc.Full) as full:
            tx.try_send(token)
        assert full.value.value is token
        del full
        for _ in range(cap):
            assert rx.recv() is token
        assert refs(token) == alone
    rx.close()
    with pytest.raises(mpsc.SendError) as gone:
        tx.send(token)
    assert gone.value.value is token
    del gone
    assert refs(token) == alone


def test_a_million_operations_leave_no_memory_behind(implementation: str) -> None:
    """Ten operations a round, every entry point and its failures, 100,000 rounds."""
    tx, rx = mpsc.channel()
    btx, brx = mpsc.bounded(1)
    _, lone_rx = mpsc.channel()  # its sender is gone: RecvError
    gone_tx, gone_rx = mpsc.channel()
    gone_rx.close()  # SendError
    del _

    def body() -> None:
        tx.send(1)
        rx.recv()
        tx.try_send(2)
        next(rx)
        btx.send(3)
        try:
            btx.try_send(4)
        except mpsc.Full:
            pass
        brx.try_recv()
        try:
            brx.try_recv()
        except mpsc.Empty:
            pass
        try:
            lone_rx.recv()
        except mpsc.RecvError:
            pass
        try:
            gone_tx.send(5)
        except mpsc.SendError:
            pass

    growth = memory_growth(body, 100_000)
    assert growth < 30_000, f"{growth} bytes left behind by a million operations"


# -- what the compiled steps leave to the pure code ends as the pure code says ----------------------


def test_a_send_to_a_parked_receiver_and_a_receive_from_a_parked_sender(implementation: str) -> None:
    for cap in [None, 1, 0]:
        tx, rx = mpsc.channel() if cap is None else mpsc.bounded(cap)
        receiver = Worker(lambda: rx.recv_timeout(WAIT))
        wait_until(lambda: bool(rx._chan.recvq))
        tx.send("to the parked one")
        assert receiver.join() == "to the parked one"
        if cap is None:
            continue  # no send waits on an unbounded channel
        for i in range(cap):
            tx.send(i)
        sender = Worker(lambda: tx.send_timeout("waited", WAIT))
        wait_until(lambda: bool(tx._chan.sendq))
        got = [rx.recv() for _ in range(cap + 1)]
        sender.join()
        assert got == [*range(cap), "waited"]


def test_closed_handles_and_disconnection_raise_as_the_pure_code_says(implementation: str) -> None:
    tx, rx = mpsc.channel()
    spare = tx.clone()
    tx.close()
    with pytest.raises(mpsc.ClosedHandleError):
        tx.send(1)
    with pytest.raises(mpsc.ClosedHandleError):
        tx.try_send(1)
    spare.send("last")
    spare.close()
    assert list(rx) == ["last"]
    with pytest.raises(mpsc.RecvError):
        rx.recv()
    with pytest.raises(mpsc.RecvError):
        rx.try_recv()
    rx.close()
    with pytest.raises(mpsc.ClosedHandleError):
        rx.recv()
    with pytest.raises(mpsc.ClosedHandleError):
        next(rx)
    with pytest.raises(mpsc.ClosedHandleError):
        rx.try_recv()


# -- found by review: what the compiled steps must not change -----------------------------------


def test_errors_raised_by_the_pure_fallback_carry_no_hidden_context(implementation: str) -> None:
    """The compiled send hands what it leaves to the pure one; an error that one raises must not
    show the compiled step's internal ``Undecided`` as its context."""
    tx, rx = mpsc.bounded(1)
    tx.send(1)
    with pytest.raises(mpsc.Full) as full:
        tx.try_send(2)
    assert full.value.__context__ is None
    spare = tx.clone()
    spare.close()
    with pytest.raises(mpsc.ClosedHandleError) as closed:
        spare.send(3)
    assert closed.value.__context__ is None
    rx.close()
    with pytest.raises(mpsc.SendError) as gone:
        tx.send(3)
    assert gone.value.__context__ is None
    tx2, rx2 = mpsc.channel()
    tx2.close()
    for receive in (rx2.recv, rx2.try_recv):
        with pytest.raises(mpsc.RecvError) as ended:
            receive()
        assert ended.value.__context__ is None or ended.value.__suppress_context__


def test_a_receiver_subclass_overriding_iteration_does_not_change_recv(implementation: str) -> None:
    class NonBlockingIteration(mpsc.Receiver[Any]):
        __slots__ = ()

        def __iter__(self) -> Iterator[Any]:
            return self.try_iter()

    tx, rx = mpsc.channel()
    rx.__class__ = NonBlockingIteration
    late = Worker(lambda: (wait_until(lambda: bool(rx._chan.recvq)), tx.send("late")))
    assert rx.recv() == "late"  # it waited, as Receiver.recv does
    late.join()


def test_looking_at_every_attribute_of_a_handle_takes_no_message(implementation: str) -> None:
    """A debugger, ``inspect.getmembers`` or ``hasattr`` reads attributes: none may receive."""
    import inspect

    tx, rx = mpsc.bounded(3)
    for i in range(3):
        tx.send(i)
    for handle in (tx, rx):
        inspect.getmembers(handle)
        for name in dir(handle):
            hasattr(handle, name)
    assert len(rx) == 3
    assert list(rx.try_iter()) == [0, 1, 2]
    if _implementation.STEPS is not None:
        inspect.getmembers(_implementation.STEPS)  # holds no receiver between calls
        tx.send("kept")
        assert len(rx) == 1


def test_a_task_cancelled_as_its_value_arrives_under_asyncio_timeout_loses_nothing(
    implementation: str,
) -> None:
    """The README's advice for a time limit (``asyncio.timeout``; not ``wait_for`` on 3.11):
    the value is returned, or stays in the channel."""
    import asyncio

    async def main() -> None:
        tx, rx = mpsc.channel()

        async def consumer() -> Any:
            async with asyncio.timeout(WAIT):
                return await rx.recv_async()

        task = asyncio.create_task(consumer())
        while not rx._chan.recvq:
            await asyncio.sleep(0)
        task.cancel()
        tx.send("precious")
        try:
            assert await task == "precious"
        except asyncio.CancelledError:
            assert rx.try_recv() == "precious"

    asyncio.run(main())
