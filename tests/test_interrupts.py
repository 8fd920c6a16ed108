"""Invariants 1, 3, 4 and 7 under interrupts: an exception landing at any point of a call costs
nothing.

CPython raises a signal handler's exception (Ctrl-C's KeyboardInterrupt, or whatever a handler
raises) only at check points (``checkpoints.py``). Each test here runs one call — a receive, a
send, a select, a close, a clone — in a scene where it meets a peer thread at a chosen moment
(a value already there, a peer that sends once the call has parked, a peer parked before the
call), and injects ``KeyboardInterrupt`` at its 1st check point, then its 2nd, and so on until
every point has had its turn. After each run it counts every value:

* the call either did not happen (it raised, and the channel is as if it never ran) or
  happened (it returned its result; the exception, if it landed after the operation took
  effect, is raised right after the return);
* every value whose send happened is received exactly once or is still in the channel; a
  value whose send did not happen is nowhere;
* every peer ends (nobody is left parked for ever), the wait queues are empty, and a bounded
  channel still holds exactly its capacity.

Every blocking call in a peer is bounded; a peer waits for the call to park by looking at the
thread's current frame (white-box), not by sleeping.
"""

from __future__ import annotations

import asyncio
import gc
import itertools
import sys
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from typing import Any

import pytest
from checkpoints import (
    NOT_RETURNED,
    Injected,
    Injector,
    SignalInjector,
    checkpoint,
    every_point,
    every_two_points,
)
from helpers import WAIT, Worker, live, make, wait_until

import mpsc

# An interrupt landing between making a coroutine and awaiting it leaves the coroutine unawaited.
pytestmark = pytest.mark.filterwarnings("ignore:coroutine .* was never awaited:RuntimeWarning")

CAPACITIES = [None, 1, 2, 0]


def waiting(queue: Any) -> bool:
    """Whether an operation is parked in this wait queue (its waiter not yet claimed)."""
    return live(queue) > 0


class Scene:
    """One channel, the values sent on it, and the peers around one interrupted call."""

    def __init__(self, cap: int | None) -> None:
        self.cap = cap
        self.tx, self.rx = make(cap)
        self.chan = self.rx._chan
        self.happened: Counter[Any] = Counter()  # values whose send returned normally
        self.received: Counter[Any] = Counter()  # values some receive returned
        self.peers: list[Worker] = []
        self.victim = threading.get_ident()
        self.done = threading.Event()  # the interrupted call has returned or raised

    # -- peers ---------------------------------------------------------------------------------

    def peer(self, fn: Callable[[], Any]) -> Worker:
        worker = Worker(fn)
        self.peers.append(worker)
        return worker

    def when_parked(self, fn: Callable[[], Any]) -> Worker:
        """A peer that runs ``fn`` once the call waits in the channel's queue (or ended without
        waiting). (Not by looking at the call's frame: ``sys._current_frames()`` from another
        thread, while the call runs traced, corrupted frames on CPython 3.11 — a frame read as
        a dict, a segfault.)"""

        def run() -> Any:
            wait_until(lambda: waiting(self.chan.recvq) or waiting(self.chan.sendq) or self.done.is_set())
            return fn()

        return self.peer(run)

    def send(self, value: Any) -> None:
        self.tx.send(value)
        self.happened[value] += 1

    def recv(self) -> None:
        self.received[self.rx.recv_timeout(WAIT)] += 1

    def park_sender(self, value: Any) -> Worker:
        """A peer parked sending ``value`` (the channel is full, or has no room at all)."""
        worker = self.peer(lambda: self.send(value))
        wait_until(lambda: bool(self.chan.sendq))
        return worker

    def park_receiver(self) -> Worker:
        worker = self.peer(self.recv)
        wait_until(lambda: bool(self.chan.recvq))
        return worker

    # -- the end of a run ----------------------------------------------------------------------

    def finish(self) -> None:
        """Let every peer end, collect what is left in the channel, and check the invariants."""
        self.done.set()
        chan = self.chan
        for worker in self.peers:
            while True:
                # A peer still parked was left to wait by a call that did not happen: serve it.
                wait_until(lambda: not worker.thread.is_alive() or waiting(chan.sendq) or waiting(chan.recvq))
                if not worker.thread.is_alive():
                    break
                if waiting(chan.sendq):
                    self.received[self.rx.recv_timeout(WAIT)] += 1
                elif waiting(chan.recvq):
                    self.send(("release", len(self.happened)))
            worker.join()
        while True:
            try:
                self.received[self.rx.try_recv()] += 1
            except mpsc.Empty:
                break
        assert self.received == self.happened, (
            f"lost {self.happened - self.received}, duplicated {self.received - self.happened}"
        )
        # Nobody is left waiting for ever. (An entry whose waiter was completed or gave up may
        # stay in its queue until the channel next settles, if an interrupt cut its leaving
        # short: harmless, and dropped then.)
        assert not waiting(chan.recvq) and not waiting(chan.sendq), "an operation was left parked"
        if self.cap:  # capacity exact: the permits that exist are exactly the free room
            assert len(self.chan.slots) + self.chan._reserve == self.cap
            for i in range(self.cap):
                self.tx.try_send(("fill", i))
            with pytest.raises(mpsc.Full):
                self.tx.try_send("one too many")


def run_interrupted(
    scene: Scene, call: Callable[[], Any], n: int, then: int | None = None
) -> tuple[Any, BaseException | None, int]:
    """Run ``call`` with an interrupt at its n-th check point (and, with ``then``, another one
    that many points later); return its result, the exception it raised, and how many
    interrupts fired (a run with n = 0 counts as one)."""
    injector: Injector | SignalInjector = Injector(n) if then is None else SignalInjector(n, then)
    gc.disable()  # no finalizer of an earlier run's garbage inside this call
    try:
        result, exc = injector.call(call)
    finally:
        gc.enable()
    scene.done.set()
    if exc is not None and not isinstance(exc, Injected):
        raise exc
    if injector.fired:  # raised inside the call, or right after it returned: never swallowed
        # (Of two, the later one: it took the place of the first, as a second signal would.)
        assert exc is injector.raised[-1], f"the interrupt at check points{injector.where} was lost"
    return result, exc, len(injector.raised) or int(n == 0)


# -- receiving ---------------------------------------------------------------------------------


def _first(rx: mpsc.Receiver[Any]) -> Any:
    # (``next(rx)`` is a call of a C function: an exception raised as it returns lands in the
    # caller before it stores the value, a window of Python's own, as for any C function.)
    for value in rx:
        return value
    raise AssertionError("the iteration ended")


RECEIVES: dict[str, Callable[[mpsc.Receiver[Any]], Any]] = {
    "recv": lambda rx: rx.recv(),
    "recv_timeout": lambda rx: rx.recv_timeout(WAIT),
    "for": _first,
}
SELECT_RECEIVES: dict[str, Callable[[mpsc.Receiver[Any]], Any]] = {
    "select": lambda rx: mpsc.select(rx)[1],
    "select of two": lambda rx: mpsc.select(rx, mpsc.never())[1],
    "Select": lambda rx: mpsc.Select(rx).select()[1],
}


def _receive_scene(
    cap: int | None, moment: str, how: Callable[[mpsc.Receiver[Any]], Any], n: int, then: int | None = None
) -> int:
    scene = Scene(cap)
    if moment == "value there":
        if cap == 0:
            scene.park_sender("v")
        else:
            scene.send("v")
    elif moment == "value comes":
        scene.when_parked(lambda: scene.send("v"))
    else:  # "sender parked": full, with another sender waiting for room
        for i in range(cap or 0):
            scene.send(("old", i))
        scene.park_sender("v")
    result, exc, reached = run_interrupted(scene, lambda: how(scene.rx), n, then)
    if result is not NOT_RETURNED:
        scene.received[result] += 1
    scene.finish()
    return reached


# Only a bounded channel has senders waiting for room while it holds values.
RECEIVE_SCENES = [
    (cap, moment)
    for cap in CAPACITIES
    for moment in ["value there", "value comes", "sender parked"]
    if moment != "sender parked" or cap
]


@pytest.mark.parametrize("how", list(RECEIVES))
@pytest.mark.parametrize(("cap", "moment"), RECEIVE_SCENES)
def test_receive_interrupted_at_every_check_point(cap: int | None, moment: str, how: str) -> None:
    every_point(lambda n: _receive_scene(cap, moment, RECEIVES[how], n))


@pytest.mark.usefixtures("select_pass")
@pytest.mark.parametrize("how", list(SELECT_RECEIVES))
@pytest.mark.parametrize(("cap", "moment"), RECEIVE_SCENES)
def test_select_receive_interrupted_at_every_check_point(cap: int | None, moment: str, how: str) -> None:
    every_point(lambda n: _receive_scene(cap, moment, SELECT_RECEIVES[how], n))


# -- sending -----------------------------------------------------------------------------------

SENDS: dict[str, Callable[[mpsc.Sender[Any], Any], Any]] = {
    "send": lambda tx, v: tx.send(v),
    "send_timeout": lambda tx, v: tx.send_timeout(v, WAIT),
}
SELECT_SENDS: dict[str, Callable[[mpsc.Sender[Any], Any], Any]] = {
    "select": lambda tx, v: mpsc.select((tx, v)),
    "select of two": lambda tx, v: mpsc.select((tx, v), mpsc.never()),
    "Select": lambda tx, v: mpsc.Select((tx, v)).select(),
}


def _send_scene(
    cap: int | None, moment: str, how: Callable[[mpsc.Sender[Any], Any], Any], n: int, then: int | None = None
) -> int:
    scene = Scene(cap)
    if moment == "receiver parked":
        scene.park_receiver()
    elif moment == "room comes":  # full (a rendezvous always is): a receiver comes once it parked
        for i in range(cap or 0):
            scene.send(("old", i))
        scene.when_parked(scene.recv)
    result, exc, reached = run_interrupted(scene, lambda: how(scene.tx, "v"), n, then)
    if result is not NOT_RETURNED:
        scene.happened["v"] += 1
    scene.finish()
    return reached


# A rendezvous channel never has room; an unbounded one always has.
SEND_SCENES = [
    (cap, moment)
    for cap in CAPACITIES
    for moment in ["room", "receiver parked", "room comes"]
    if not (moment == "room" and cap == 0) and not (moment == "room comes" and cap is None)
]


@pytest.mark.parametrize("how", list(SENDS))
@pytest.mark.parametrize(("cap", "moment"), SEND_SCENES)
def test_send_interrupted_at_every_check_point(cap: int | None, moment: str, how: str) -> None:
    every_point(lambda n: _send_scene(cap, moment, SENDS[how], n))


@pytest.mark.usefixtures("select_pass")
@pytest.mark.parametrize("how", list(SELECT_SENDS))
@pytest.mark.parametrize(("cap", "moment"), SEND_SCENES)
def test_select_send_interrupted_at_every_check_point(cap: int | None, moment: str, how: str) -> None:
    every_point(lambda n: _send_scene(cap, moment, SELECT_SENDS[how], n))


# -- the rare branches of the lock-free steps, forced (white-box) --------------------------------
# On 3.12 leaving an except block can be a jump backward, a check point: a value or a permit
# taken inside one, or a burst continued after one, would be cut by an interrupt there.


def _gone_first(take: Any) -> Any:
    """A channel's ``take`` whose first pop finds nothing (a lock-free receiver got there first)
    and which pops with ``take`` after that; all C, as the real one (no check point inside)."""
    return itertools.chain(map(deque.popleft, itertools.repeat(deque(), 1)), take)


def _hand_over_finds_the_value_gone(cap: int | None, n: int) -> int:
    tx, rx = make(cap)
    chan = rx._chan
    parked = Worker(rx.recv_timeout, WAIT)
    wait_until(lambda: waiting(chan.recvq))
    chan.own_buffer().append("v")  # there, unseen: the lock-free receiver below "took it first"
    if chan.slots is not None:
        chan._make_permits()
        del chan.slots[-1]  # the permit that value holds
    take = chan.take
    chan.take = _gone_first(take)
    injector = Injector(n)
    injector.call(chan.settle)
    chan.take = take
    chan.settle()  # a settle cut short is restarted (_interrupts.complete): now the value goes
    assert parked.join() == "v", "the parked receiver was claimed but never woken"
    return int(injector.fired) or int(n == 0)


@pytest.mark.parametrize("cap", [None, 1])
def test_a_hand_over_that_finds_the_value_taken_first_wakes_its_receiver_whatever_lands(
    cap: int | None,
) -> None:
    every_point(lambda n: _hand_over_finds_the_value_gone(cap, n))


def _last_value_after_the_last_sender(cap: int | None, n: int) -> int:
    tx, rx = make(cap)
    chan = rx._chan
    tx.send("v")
    tx.close()
    chan.take = _gone_first(chan.take)  # the first pop misses it; the second, after tx_gone, gets it
    injector = Injector(n)
    result, exc = injector.call(chan.poll)  # the pure step (the compiled one pops buf itself)
    left = list(chan.buf)
    if result is NOT_RETURNED:
        assert left == ["v"], f"the value was taken and lost: {exc!r} at{injector.where}"
    else:
        assert result == "v" and left == []
    return int(injector.fired) or int(n == 0)


@pytest.mark.parametrize("cap", [None, 1])
def test_a_value_taken_after_the_last_sender_left_is_never_dropped_whatever_lands(
    cap: int | None,
) -> None:
    every_point(lambda n: _last_value_after_the_last_sender(cap, n))


def _points_with_a_collected_handle(chan: Any, kept: list[Any], threshold: int) -> int:
    """How many check points the injector counts in ``chan.settle`` while a Sender of another
    channel, in a reference cycle, waits for the collector, which collects at the
    ``threshold``-th allocation (a small one: inside the traced call)."""
    gc.collect()
    injector = Injector(10**9)  # (never fires: counting only)
    tx, rx = make(0)
    kept.append(rx)  # the sender's release settles a channel that has a receiver
    cycle: list[Any] = [tx]
    cycle.append(cycle)
    del tx
    old = gc.get_threshold()
    gc.set_threshold(threshold)
    del cycle  # now only the collector frees it, running Sender.__del__: mpsc's code
    try:
        injector.call(chan.settle)
    finally:
        gc.set_threshold(*old)
    gc.collect()
    return injector.points


def test_the_injector_counts_no_finalizer_the_collector_runs_inside_the_call() -> None:
    """The check points ``Injector(n).call(fn)`` tries are the call's own. A handle an earlier
    test left in a cycle, finalized by the collector inside the call, ran mpsc's code that the
    injector counted (and fired in); on CPython 3.11 firing there could crash the interpreter
    (findings/segv/01): the segmentation fault of the white-box tests above after the process
    tests."""
    _, rx = make(None)
    kept: list[Any] = []
    _points_with_a_collected_handle(rx._chan, kept, 10**9)  # (3.12 instruments on first use)
    own = _points_with_a_collected_handle(rx._chan, kept, 10**9)
    counted = {}
    for threshold in range(1, 40):
        counted[threshold] = _points_with_a_collected_handle(rx._chan, kept, threshold)
    assert set(counted.values()) == {own}, f"the call's own {own} check points, counted: {counted}"


# -- closing, cloning --------------------------------------------------------------------------


def _close_scene(cap: int | None, side: str, n: int, then: int | None = None) -> int:
    scene = Scene(cap)
    if side == "sender":  # the last sender leaves while a receiver waits: it must see RecvError
        peer = scene.peer(scene.rx.recv)
        wait_until(lambda: bool(scene.chan.recvq))
        handle: Any = scene.tx
        error: type[BaseException] = mpsc.RecvError
    else:  # the last receiver leaves while a sender waits for room: it must see SendError
        for i in range(cap or 0):
            scene.send(("old", i))
        peer = scene.peer(lambda: scene.tx.send("v"))
        wait_until(lambda: bool(scene.chan.sendq))
        handle = scene.rx
        error = mpsc.SendError
    result, exc, reached = run_interrupted(scene, handle.close, n, then)
    if result is NOT_RETURNED:
        handle.close()  # it did not happen: close it now
    with pytest.raises(error):
        peer.join()
    assert not waiting(scene.chan.recvq) and not waiting(scene.chan.sendq)
    return reached


# No send waits on an unbounded channel.
CLOSE_SCENES = [
    (cap, side)
    for cap in CAPACITIES
    for side in ["sender", "receiver"]
    if side == "sender" or cap is not None
]


@pytest.mark.parametrize(("cap", "side"), CLOSE_SCENES)
def test_close_interrupted_at_every_check_point(cap: int | None, side: str) -> None:
    every_point(lambda n: _close_scene(cap, side, n))


def _clone_scene(n: int) -> int:
    scene = Scene(None)
    tx, rx = scene.tx, scene.rx
    result, exc, reached = run_interrupted(scene, tx.clone, n)
    chan = rx._chan
    if result is NOT_RETURNED:
        assert chan.senders == 1, "a clone that did not happen was counted"
    else:
        assert chan.senders == 2
        result.close()
    tx.close()
    assert rx.is_disconnected()
    return reached


def test_clone_interrupted_at_every_check_point() -> None:
    every_point(_clone_scene)


# -- two interrupts close together: the second lands while the first is being handled ----------

TWICE = [
    ("receive", "recv", 1, "sender parked"),
    ("receive", "recv", 0, "value comes"),
    ("receive", "Select", 1, "sender parked"),
    ("send", "send", None, "receiver parked"),
    ("send", "send", 1, "room comes"),
    ("send", "Select", 0, "receiver parked"),
    ("close", "sender", 1, ""),
    ("close", "receiver", 1, ""),
]


@pytest.mark.usefixtures("select_pass")
@pytest.mark.parametrize(("call", "how", "cap", "moment"), TWICE)
def test_two_interrupts_at_every_pair_of_check_points(
    call: str, how: str, cap: int | None, moment: str
) -> None:
    """Two signals microseconds apart (Ctrl-C twice, an alarm and a Ctrl-C): whatever the
    second one interrupts — the first one's handling included — the call still either did not
    happen or happened, and the caller sees the later exception."""
    if call == "receive":
        receive = {**RECEIVES, **SELECT_RECEIVES}[how]
        pairs = every_two_points(lambda n, m: _receive_scene(cap, moment, receive, n, m))
    elif call == "send":
        send = {**SENDS, **SELECT_SENDS}[how]
        pairs = every_two_points(lambda n, m: _send_scene(cap, moment, send, n, m))
    else:
        pairs = every_two_points(lambda n, m: _close_scene(cap, how, n, m))
    assert pairs > 0


# -- asyncio tasks: an exception thrown in where the task resumes, or landing anywhere else -----


def _task_scene(cap: int | None, moment: str, side: str, how: str, n: int) -> int:
    scene = Scene(cap)
    chan = scene.chan
    got: list[Any] = []
    if side == "receive":
        if moment == "value comes":
            scene.peer(lambda: (wait_until(lambda: bool(chan.recvq) or scene.done.is_set()), scene.send("v")))
        else:  # a sender waits (for room, or for a receiver at all)
            for i in range(cap or 0):
                scene.send(("old", i))
            scene.park_sender("v")
    elif moment == "room comes":
        for i in range(cap or 0):
            scene.send(("old", i))
        scene.peer(lambda: (wait_until(lambda: bool(chan.sendq) or scene.done.is_set()), scene.recv()))
    else:  # a receiver waits
        scene.park_receiver()

    async def victim() -> None:
        # An exception raised right after the call returned lands at the coroutine's next check
        # point: here, as in most code, its own next line. (In a task whose coroutine ends
        # with the call it would land in asyncio's own code, which is not safe against one.)
        if side == "receive":
            if how == "select_async":
                got.append((await mpsc.select_async(scene.rx))[1])
            else:
                got.append(await scene.rx.recv_async())
        elif how == "select_async":
            await mpsc.select_async((scene.tx, "v"))
            got.append("sent")
        else:
            await scene.tx.send_async("v")
            got.append("sent")
        checkpoint()

    result, exc, reached = run_interrupted(scene, lambda: asyncio.run(victim()), n)
    if side == "receive":
        scene.received.update(got)
    elif got:
        scene.happened["v"] += 1
    scene.finish()
    return reached


TASK_SCENES = [
    (cap, moment, side)
    for cap in CAPACITIES
    for side, moments in (
        ("receive", ["value comes", "sender parked"]),
        ("send", ["room comes", "receiver parked"]),
    )
    for moment in moments
    if not (moment == "sender parked" and cap is None) and not (moment == "room comes" and cap is None)
]


@pytest.mark.parametrize("how", ["method", "select_async"])
@pytest.mark.parametrize(("cap", "moment", "side"), TASK_SCENES)
def test_task_interrupted_at_every_check_point(cap: int | None, moment: str, side: str, how: str) -> None:
    every_point(lambda n: _task_scene(cap, moment, side, how, n))


# -- where the compiler leaves a check point outside the handler around it ----------------------


def _unprotected_back_edges() -> list[str]:
    """Every loop back edge in mpsc's source with no exception handler although the instruction
    before it has one, or although a handler covers code on both sides of it (a comprehension
    inside ``with``/``try``: 3.12+ inline it, and leave its ``if`` clause's back edge outside
    every handler)."""
    import dis
    import pathlib
    import types

    found = []
    root = pathlib.Path(mpsc.__file__).parent
    for path in sorted(root.rglob("*.py")):
        todo = [compile(path.read_text(), str(path), "exec")]
        while todo:
            code = todo.pop()
            todo += [c for c in code.co_consts if isinstance(c, types.CodeType)]
            table = dis._parse_exception_table(code)  # type: ignore[attr-defined]

            def covered(offset: int, table: Any = table) -> bool:
                return any(entry.start <= offset < entry.end for entry in table)

            instructions = list(dis.get_instructions(code))
            at = {i.offset: n for n, i in enumerate(instructions)}

            def restores_only(handler: int) -> bool:
                """A comprehension's own handler (it puts its variable back and re-raises), or a
                generator's (it turns StopIteration into RuntimeError)."""
                for instruction in instructions[at[handler] :]:
                    if instruction.opname == "RERAISE":
                        return True
                    if instruction.opname == "CALL_INTRINSIC_1":  # a generator's StopIteration
                        return True
                    if instruction.opname not in ("SWAP", "POP_TOP", "STORE_FAST"):
                        return False
                return False

            handlers = min((entry.target for entry in table), default=0)  # (laid out last)

            def straddled(offset: int, table: Any = table, handlers: int = handlers) -> bool:
                before = {entry.target for entry in table if entry.end <= offset}
                return any(
                    not restores_only(entry.target) or covered(entry.target)
                    for entry in table
                    if offset < entry.start < handlers and entry.target in before
                )

            for before, here in itertools.pairwise(instructions):
                if (
                    here.opname == "JUMP_BACKWARD"
                    and not covered(here.offset)
                    and (covered(before.offset) or straddled(here.offset))
                ):
                    line = here.positions.lineno if here.positions else None
                    found.append(f"{path.relative_to(root)}:{line} {code.co_qualname}")
    return found


@pytest.mark.skipif(
    sys.version_info < (3, 13),
    reason="3.11 and 3.12 check for signals before the jump, inside the handler's range",
)
def test_no_loop_back_edge_escapes_the_handler_around_it() -> None:
    """CPython 3.13 runs signal handlers (and raises asynchronous exceptions) at a loop's
    JUMP_BACKWARD itself, which the compiler leaves outside every handler for the bottom of a
    ``while <condition>:`` loop (python/cpython#130279): an exception landing there skips the
    ``try`` around the loop — a value already handed over was lost that way (``_ops.recorded``),
    and a ``with lock:`` would stay locked. mpsc writes such loops ``while True: ... break``."""
    assert _unprotected_back_edges() == []


def test_an_exception_deferred_as_a_thread_it_started_is_not_running_yet_reaches_the_caller() -> None:
    """Review 12/10: on CPython 3.11 a thread started a moment ago carries its creator's ident
    until it runs, and the deferred exception (armed by ident) went to it: the new thread died
    before its target ran, and the caller never saw its interrupt. mpsc met it when a handle's
    finalizer was interrupted while starting the reaper thread. Here the interrupt lands inside
    ``Thread.start`` (as it waits for the thread to run), and the call finishes as mpsc's do."""
    from mpsc._interrupts import finish, nothing

    lost = 0
    for _ in range(200):
        ran = threading.Event()
        thread = threading.Thread(target=ran.set, daemon=True)

        def interrupted(*args: object) -> bool:
            raise KeyboardInterrupt("meant for the caller")

        thread._started.wait = interrupted  # type: ignore[attr-defined,method-assign]

        def call(thread: threading.Thread = thread) -> str:
            try:
                thread.start()
            except KeyboardInterrupt as exc:
                return finish("done", nothing, None, exc)
            return "not interrupted"

        caught: BaseException | None = None
        out = None
        try:
            out = call()
            checkpoint()
        except KeyboardInterrupt as exc:
            caught = exc
        assert out == "done"
        if caught is None:
            lost += 1
        assert ran.wait(WAIT), "the new thread died before its target ran"
        thread.join(WAIT)
    assert lost == 0


def test_a_thread_left_unstarted_for_good_delays_deferred_exceptions_once_at_most() -> None:
    """Review 13/07 and 13/09: on CPython 3.11 a deferral waits for the threads started and not
    yet running (above); a start interrupted between ``_limbo`` and the thread's start leaves
    one there for good, and every deferral after waited 50 ms for it — with interrupts landing
    in that wait every millisecond, a receive that had its value never returned. Such a thread
    is waited for 50 ms in all, then no more."""
    from mpsc._interrupts import finish, nothing

    stuck = threading.Thread(target=lambda: None)
    limbo: dict[Any, Any] = getattr(threading, "_limbo", {})
    limbo[stuck] = stuck
    try:
        took = []
        for _ in range(20):
            start = time.monotonic()
            try:
                finish("done", nothing, None, KeyboardInterrupt("deferred"))
                checkpoint()
            except KeyboardInterrupt:
                pass
            took.append(time.monotonic() - start)
    finally:
        limbo.pop(stuck, None)
    assert sum(took[1:]) < 0.2, took  # (waiting 50 ms each: about 1 s)
