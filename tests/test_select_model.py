"""Model-based tests of non-blocking ``select``: both of its try passes against a plain model.

``select`` has two implementations of the pass that completes a ready operation: the C one
(``_accel.c``, where it is built), which does buffered channels inline and rendezvous channels
and timers through their Python methods, and the pure-Python one, which is the reference for
what a select does. Each must give, for every call, exactly what DESIGN.md §2 and §4 predict;
the model below says what that is, so the machine runs once per pass this build has
(``SELECT_PASSES``), switching the pass itself (hypothesis runs outside pytest's fixtures).

The model is a few channels — three small ones whose capacities are drawn from {unbounded, 1,
2, 3}, one ``bounded(1100)`` that a rule fills in bulk (past 1024 buffered values its permits
are made lazily, under the lock, which the C pass must leave to the Python code), one
rendezvous channel — and four timers (``at`` an instant that has passed, re-armed by a rule;
``at`` an hour away; ``tick(3600)``; ``never()``). For each channel it keeps the buffered values
(every value sent is a fresh increasing int; a run starts with a few in each channel) and the
open and closed Sender and Receiver handles. The rules send and receive directly
(``try_send``, ``send``, ``try_recv``, ``recv``; the waiting ones only where the model says they
return at once), clone and close handles, and select over a random list of one to six
operations drawn from those channels and timers (receives, sends of fresh values, duplicates
allowed, now and then through a closed handle): ``select(*ops, block=False)``,
``select(*ops, timeout=0)``, and through a ``Select`` builder that lives across steps (so that
its cached operations reach the C pass), with ``try_select()``, ``select(block=False)`` and
``select(timeout=0)``. Closing every handle of a channel lets a rule
replace it with a new one, so that runs keep live channels. The C pass's random draw is seeded
from hypothesis's ``random`` for each example, so that a failure replays.

What is checked, exactly, for each select: an operation through a closed handle raises
``ClosedHandleError`` and nothing else happens; else, if the model has no ready operation,
``Empty`` (``block=False``) or ``Timeout`` (``timeout=0``) with no ``.index``; else the index
returned is one the model says is ready (a receive with a buffered value or none ever coming, a
send with room or no receiver left, a timer that is due), and the result is what the model
gives for it: the channel's oldest value, None for a send, the timer's instant, or
``RecvError``/``SendError`` with ``.index`` set to that operation (and ``.value`` its value).
After every step every channel must hold exactly the model's values (white-box, ``chan.buf``),
with no operation left queued in it, exact permits, and the model's open-handle counts: so the
operations that lost left their channels untouched and the winner took effect once.

Two plain tests check that the choice among ready operations is uniform, with each pass: three
always-ready operations in several forms, over 3000 selects, and a due timer against a ready
channel (a fresh ``at`` each trial), each within 6 standard deviations of an even split.
"""

from __future__ import annotations

import math
import os
import random
import sys
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

import pytest
from conftest import SELECT_PASSES
from helpers import nothing_queued, watchdog
from hypothesis import Phase, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

import mpsc
from mpsc import _select

OK = "ok"
LONG = 5.0  # a bound on a call the model says returns at once: if it is reached, the test fails
MAX_HANDLES = 3  # open handles per side of a channel
BIG = 1100  # more than _PERMIT_CHUNK (1024): the last permits are made lazily
SMALL_CAPS = st.sampled_from([None, 1, 2, 3])
PICK = st.integers(min_value=0, max_value=7)  # which channel or handle, modulo how many

# The switch the select_pass fixture sets, and what it is in this build (the C pass where it was
# built). The machines set it themselves and put it back in teardown.
_BUILT_PASS = _select.PASS


def _seed_c_pass(seed: int) -> None:
    """Seed the C pass's random draw among ready operations (``_accel.seed``)."""
    mpsc._accel.seed(seed)


Outcome = tuple[Any, Any, Any]  # (OK or exception class, index, value)


def outcome(call: Callable[[], tuple[int, Any]]) -> Outcome:
    """What a select did, comparably: ``(OK, index, result)`` or ``(class, .index, .value)``."""
    try:
        index, result = call()
    except mpsc.ClosedHandleError:
        return (mpsc.ClosedHandleError, None, None)
    except mpsc.ChannelError as exc:
        return (type(exc), exc.index, getattr(exc, "value", None))
    return (OK, index, result)


def plain_outcome(call: Callable[[], Any]) -> tuple[Any, Any]:
    """What a plain send or receive did: ``(OK, result)`` or ``(class, .value)``."""
    try:
        result = call()
    except mpsc.ChannelError as exc:
        assert exc.index is None, "index set outside select"
        return (type(exc), getattr(exc, "value", None))
    return (OK, result)


# -- the model ------------------------------------------------------------------------------------


@dataclass(eq=False)
class Channel:
    """One channel: capacity (None unbounded, 0 rendezvous), buffered values, handles."""

    name: str
    cap: int | None
    chan: Any  # the state object, for the white-box checks
    senders: list[Any]  # open handles
    receivers: list[Any]
    closed_senders: list[Any] = field(default_factory=list)
    closed_receivers: list[Any] = field(default_factory=list)
    buf: deque[int] = field(default_factory=deque)

    @classmethod
    def make(cls, name: str, cap: int | None) -> Channel:
        tx, rx = mpsc.channel() if cap is None else mpsc.bounded(cap)
        return cls(name, cap, rx._chan, [tx], [rx])

    @property
    def tx_gone(self) -> bool:
        return not self.senders

    @property
    def rx_gone(self) -> bool:
        return not self.receivers

    def has_room(self) -> bool:
        return self.cap is None or len(self.buf) < self.cap

    def recv_ready(self) -> bool:
        return bool(self.buf) or self.tx_gone

    def send_ready(self) -> bool:
        return self.rx_gone or self.has_room()

    def is_open(self, handle: Any) -> bool:
        return any(h is handle for h in self.senders + self.receivers)

    def close(self, handle: Any) -> None:
        if isinstance(handle, mpsc.Sender):
            self.senders.remove(handle)
            self.closed_senders.append(handle)
        else:
            self.receivers.remove(handle)
            self.closed_receivers.append(handle)
            if self.rx_gone:
                self.buf.clear()  # dropped at once
        handle.close()

    def __repr__(self) -> str:
        return f"<{self.name}: capacity {self.cap}, {len(self.buf)} buffered>"


@dataclass(eq=False)
class Timer:
    """A timer receiver: ``when`` the instant it delivers (None: never), and whether it did."""

    name: str
    rx: Any
    when: float | None
    fired: bool = False

    def ready(self) -> bool:
        return self.when is not None and not self.fired and time.monotonic() >= self.when

    def __repr__(self) -> str:
        return f"<{self.name}>"


@dataclass(eq=False)
class Arm:
    """One operation of a select: a receive from ``target`` or a send of ``value`` to it."""

    target: Channel | Timer
    handle: Any
    sending: bool
    value: int | None = None

    def op(self) -> Any:
        return (self.handle, self.value) if self.sending else self.handle

    def closed(self) -> bool:
        return isinstance(self.target, Channel) and not self.target.is_open(self.handle)

    def ready(self) -> bool:
        if isinstance(self.target, Timer):
            return self.target.ready()
        return self.target.send_ready() if self.sending else self.target.recv_ready()

    def take_effect(self, index: int) -> Outcome:
        """Do this (ready) operation in the model; what the select must have given."""
        target = self.target
        if isinstance(target, Timer):
            target.fired = True
            return (OK, index, target.when)
        if self.sending:
            if target.rx_gone:
                return (mpsc.SendError, index, self.value)
            target.buf.append(self.value)  # type: ignore[arg-type]
            return (OK, index, None)
        if target.buf:
            return (OK, index, target.buf.popleft())
        return (mpsc.RecvError, index, None)

    def __repr__(self) -> str:
        return f"({self.target.name} {'<-' if self.sending else '->'} {self.value})"


# An operation as hypothesis draws it: send or receive, which target, which handle, and whether
# to go through a closed handle (about one in twelve, where the side has one).
ARM = st.tuples(st.booleans(), st.integers(0, 15), PICK, st.integers(0, 11).map(lambda n: n == 11))
ARMS = st.lists(ARM, min_size=1, max_size=6)
SELECT_HOW = st.sampled_from(["block=False", "timeout=0", "timeout=0.0"])


class SelectMachine(RuleBasedStateMachine):
    """Non-blocking selects, direct operations and handle ownership against the model."""

    select_pass: ClassVar[str] = "pure"

    def __init__(self) -> None:
        super().__init__()
        if self.select_pass == "c":
            assert isinstance(_BUILT_PASS, mpsc._accel.SelectPass)
            # Hypothesis seeds ``random`` for each example; the C pass draws from a generator of
            # its own: seed it from ``random`` too, so that a failing example replays.
            _seed_c_pass(random.getrandbits(64))
        self.saved = _select.PASS
        _select.PASS = None if self.select_pass == "pure" else _BUILT_PASS
        self.last_value = 0
        self.channels: list[Channel] = []
        now = time.monotonic()
        self.timers = [
            Timer("at(past)", mpsc.at(now - 1), now - 1),
            Timer("at(+1h)", mpsc.at(now + 3600), now + 3600),
            Timer("tick(1h)", mpsc.tick(3600), None),  # its first tick is an hour away
            Timer("never", mpsc.never(), None),
        ]
        self.builder = mpsc.Select()
        self.builder_arms: dict[int, Arm] = {}
        self.last_index = -1

    @initialize(
        caps=st.tuples(SMALL_CAPS, SMALL_CAPS, SMALL_CAPS),
        counts=st.tuples(*[st.integers(0, 3)] * 3),
        big=st.sampled_from([0, 2, 1023, 1024, BIG]),
    )
    def open_channels(self, caps: tuple[int | None, ...], counts: tuple[int, ...], big: int) -> None:
        """The channels, with a few values in each already (a select finds something)."""
        self.channels = [Channel.make(f"c{i}", cap) for i, cap in enumerate(caps)]
        self.channels.append(Channel.make("big", BIG))
        self.channels.append(Channel.make("rendezvous", 0))
        for channel, count in zip(self.channels, counts, strict=False):
            for _ in range(count if channel.cap is None else min(count, channel.cap)):
                value = self.fresh()
                channel.senders[0].send(value)
                channel.buf.append(value)
        self.big_level(big)

    def teardown(self) -> None:
        try:
            for channel in self.channels:
                for handle in channel.senders + channel.receivers:
                    handle.close()
            for timer in self.timers:
                timer.rx.close()
        finally:
            _select.PASS = self.saved
            if self.select_pass == "c":
                _seed_c_pass(int.from_bytes(os.urandom(8)))

    # -- plumbing ------------------------------------------------------------------------------

    def fresh(self) -> int:
        self.last_value += 1
        return self.last_value

    @property
    def buffered(self) -> list[Channel]:
        return self.channels[:4]  # the small ones and the big one: the C pass does them inline

    def resolve(self, drawn: list[tuple[bool, int, int, bool]], exotic: bool) -> list[Arm]:
        """The drawn operations as arms; one on a side with no handle open is left out.
        Without ``exotic``, only buffered channels (a select the C pass does entirely inline)."""
        arms = []
        for sending, target, pick, through_closed in drawn:
            if exotic and target >= 12:
                timer = self.timers[target - 12]
                arms.append(Arm(timer, timer.rx, False))
                continue
            channel = self.channels[4] if exotic and target >= 8 else self.buffered[target % 4]
            handles = channel.senders if sending else channel.receivers
            closed = channel.closed_senders if sending else channel.closed_receivers
            if through_closed and closed:
                handle = closed[pick % len(closed)]
            elif handles:
                handle = handles[pick % len(handles)]
            else:
                continue
            arms.append(Arm(channel, handle, sending, self.fresh() if sending else None))
        return arms

    def check(self, arms: dict[int, Arm], call: Callable[[], tuple[int, Any]], nothing: type) -> None:
        """Run a select over ``arms`` (by index) and check its outcome against the model;
        ``nothing`` is what it raises when no operation is ready."""
        got = outcome(call)
        event(f"select: {got[0] if got[0] == OK else got[0].__name__}")
        if any(arm.closed() for arm in arms.values()):
            assert got == (mpsc.ClosedHandleError, None, None), (got, arms)
            return
        ready = {index for index, arm in arms.items() if arm.ready()}
        if not ready:
            assert got == (nothing, None, None), (got, arms)
            return
        index = got[1]
        assert index in ready, f"{got} but ready were {sorted(ready)} of {arms}"
        expected = arms[index].take_effect(index)
        assert got == expected, (got, expected, arms)
        self.channels_match_model()  # at once: a builder_select makes several calls

    def watched(self, call: Callable[[], Any], wake: Callable[[], None]) -> tuple[Any, Any]:
        """``plain_outcome(call)`` for a call without a timeout that the model says returns at
        once; should it wait after all, ``wake`` disconnects it after LONG (the test fails)."""
        with watchdog(LONG, wake):
            return plain_outcome(call)

    # -- select --------------------------------------------------------------------------------

    def run_select(self, arms: list[Arm], how: str) -> None:
        ops = [arm.op() for arm in arms]
        if how == "block=False":
            self.check(dict(enumerate(arms)), lambda: mpsc.select(*ops, block=False), mpsc.Empty)
        else:
            timeout = 0 if how == "timeout=0" else 0.0
            self.check(dict(enumerate(arms)), lambda: mpsc.select(*ops, timeout=timeout), mpsc.Timeout)

    @rule(drawn=ARMS, how=SELECT_HOW)
    def select_buffered(self, drawn: list[tuple[bool, int, int, bool]], how: str) -> None:
        """A select on buffered channels only: one the C pass completes inline when it can."""
        self.run_select(self.resolve(drawn, exotic=False), how)

    @rule(drawn=ARMS, how=SELECT_HOW)
    def select_mixed(self, drawn: list[tuple[bool, int, int, bool]], how: str) -> None:
        """A select that may include the rendezvous channel and timers as well."""
        self.run_select(self.resolve(drawn, exotic=True), how)

    @rule(
        action=st.sampled_from(["add", "add by method", "remove", "remove closed"]),
        drawn=ARMS,
        exotic=st.booleans(),
    )
    def builder_edit(self, action: str, drawn: list[tuple[bool, int, int, bool]], exotic: bool) -> None:
        builder = self.builder
        if action == "remove closed":  # what a loop does once an operation's handle is gone
            self.builder_remove([index for index, arm in self.builder_arms.items() if arm.closed()])
        elif action == "remove":
            if self.builder_arms:
                indices = sorted(self.builder_arms)
                self.builder_remove([indices[drawn[0][2] % len(indices)]])
            with pytest.raises(ValueError):
                builder.remove(self.last_index + 1)  # never given
        else:
            for arm in self.resolve(drawn, exotic):
                before = len(builder)

                def add(arm: Arm = arm) -> int:
                    if action == "add":
                        return builder.add(arm.op())
                    if arm.sending:
                        return builder.send(arm.handle, arm.value)
                    return builder.recv(arm.handle)

                if arm.closed():
                    with pytest.raises(mpsc.ClosedHandleError):
                        add()
                    assert len(builder) == before
                    continue
                index = add()
                assert index > self.last_index, "an index was given twice"
                self.last_index = index
                self.builder_arms[index] = arm
                assert len(builder) == before + 1
                assert index in builder

    def builder_remove(self, indices: list[int]) -> None:
        for index in indices:
            self.builder.remove(index)
            del self.builder_arms[index]
            assert index not in self.builder
            with pytest.raises(ValueError):
                self.builder.remove(index)
        assert len(self.builder) == len(self.builder_arms)

    @rule(
        how=st.sampled_from(["try_select", "select(block=False)", "select(timeout=0)"]),
        times=st.integers(1, 3),
    )
    def builder_select(self, how: str, times: int) -> None:
        # Several in a row: the first after a change goes to the pure pass, the next ones to the
        # builder's try pass (the C one, where this machine runs it) with the cached operations.
        builder = self.builder
        calls = {
            "try_select": builder.try_select,
            "select(block=False)": lambda: builder.select(block=False),
            "select(timeout=0)": lambda: builder.select(timeout=0),
        }
        nothing = mpsc.Timeout if how == "select(timeout=0)" else mpsc.Empty
        for _ in range(times):
            self.check(self.builder_arms, calls[how], nothing)

    # -- plain operations ----------------------------------------------------------------------

    @rule(pick=PICK, handle=PICK, how=st.sampled_from(["try_send", "send"]))
    def send(self, pick: int, handle: int, how: str) -> None:
        channel = self.channels[pick % len(self.channels)]
        if not channel.senders:
            return
        tx = channel.senders[handle % len(channel.senders)]
        value = self.fresh()
        if how == "send" and channel.send_ready():
            got = self.watched(lambda: tx.send(value), lambda: [rx.close() for rx in channel.receivers])
        elif how == "send":
            got = plain_outcome(lambda: tx.send_timeout(value, 0))
        else:
            got = plain_outcome(lambda: tx.try_send(value))
        if channel.rx_gone:
            expected: tuple[Any, Any] = (mpsc.SendError, value)
        elif channel.has_room():
            channel.buf.append(value)
            expected = (OK, None)
        else:
            expected = (mpsc.Timeout if how == "send" else mpsc.Full, value)
        assert got == expected

    @rule(pick=PICK, handle=PICK, how=st.sampled_from(["try_recv", "recv"]))
    def recv(self, pick: int, handle: int, how: str) -> None:
        channel = self.channels[pick % len(self.channels)]
        if not channel.receivers:
            return
        rx = channel.receivers[handle % len(channel.receivers)]
        if how == "recv" and channel.recv_ready():
            got = self.watched(rx.recv, lambda: [tx.close() for tx in channel.senders])
        elif how == "recv":
            got = plain_outcome(lambda: rx.recv_timeout(0))
        else:
            got = plain_outcome(rx.try_recv)
        if channel.buf:
            expected: tuple[Any, Any] = (OK, channel.buf.popleft())
        elif channel.tx_gone:
            expected = (mpsc.RecvError, None)
        else:
            expected = (mpsc.Timeout if how == "recv" else mpsc.Empty, None)
        assert got == expected

    @rule(level=st.sampled_from([0, 1, 1022, 1023, 1024, 1025, BIG - 1, BIG]))
    def big_level(self, level: int) -> None:
        """Fill or drain the bounded(1100) channel to ``level`` values, around where the
        eagerly made permits (1024) run out and the lazy ones begin."""
        channel = self.channels[3]
        if len(channel.buf) > level and channel.receivers:
            rx = channel.receivers[0]
            count = len(channel.buf) - level
            assert [rx.try_recv() for _ in range(count)] == [channel.buf.popleft() for _ in range(count)]
        elif len(channel.buf) < level and channel.senders and not channel.rx_gone:
            tx = channel.senders[0]
            while len(channel.buf) < level:
                value = self.fresh()
                tx.try_send(value)
                channel.buf.append(value)
            if level == BIG:
                with pytest.raises(mpsc.Full):
                    tx.try_send(self.fresh())

    # -- handles -------------------------------------------------------------------------------

    @rule(
        action=st.sampled_from(["clone", "close", "close side"]),
        pick=PICK,
        handle=PICK,
        sender=st.booleans(),
    )
    def handles(self, action: str, pick: int, handle: int, sender: bool) -> None:
        """Clone or close one handle, or close every handle of one side of a channel."""
        channel = self.channels[pick % len(self.channels)]
        handles = channel.senders if sender else channel.receivers
        if not handles:
            return
        if action == "clone":
            if len(handles) < MAX_HANDLES:
                handles.append(handles[handle % len(handles)].clone())
        elif action == "close":
            channel.close(handles[handle % len(handles)])
        else:
            for each in list(handles):
                channel.close(each)

    @precondition(lambda self: any(c.tx_gone and c.rx_gone for c in self.channels))
    @rule(pick=PICK, cap=SMALL_CAPS)
    def renew(self, pick: int, cap: int | None) -> None:
        """Replace a channel with no handle left open by a new one (small ones get a new
        capacity), so that a run keeps live channels; its old handles stay in use, closed."""
        gone = [i for i, c in enumerate(self.channels) if c.tx_gone and c.rx_gone]
        position = gone[pick % len(gone)]
        old = self.channels[position]
        new = Channel.make(old.name, cap if position < 3 else old.cap)
        new.closed_senders = old.closed_senders
        new.closed_receivers = old.closed_receivers
        self.channels[position] = new

    @rule(ago=st.sampled_from([0.0, 1.0, 3600.0]))
    def rearm_timer(self, ago: float) -> None:
        """A new ``at`` instant that has passed (the old timer stays usable)."""
        when = time.monotonic() - ago
        self.timers[0] = Timer("at(past)", mpsc.at(when), when)

    # -- the state matches the model -----------------------------------------------------------

    @invariant()
    def channels_match_model(self) -> None:
        for channel in self.channels:
            chan = channel.chan
            assert list(chan.buf) == list(channel.buf), channel.name
            assert nothing_queued(chan), f"{channel.name}: an operation stayed queued"
            assert (chan.senders, chan.receivers) == (len(channel.senders), len(channel.receivers))
            assert (chan.tx_gone, chan.rx_gone) == (channel.tx_gone, channel.rx_gone)
            if channel.cap and not channel.rx_gone:  # permits: exactly the room left
                assert len(chan.slots) + chan._reserve == channel.cap - len(channel.buf), channel.name
            for handle in channel.senders[:1] + channel.receivers[:1]:
                assert len(handle) == len(channel.buf)
        for timer in self.timers:
            assert len(timer.rx) == int(timer.ready()), timer.name


# About 4.5 s per pass on two cores; the free-threaded build (pure pass only) runs about half as
# fast, so it gets half the examples.
_SCALE = 1 if getattr(sys, "_is_gil_enabled", lambda: True)() else 2
# No explain phase: it replays a failure under a line tracer, which makes the bulk fills of the
# big channel crawl.
MACHINE = settings(
    max_examples=300 // _SCALE,
    stateful_step_count=40,
    deadline=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink],
)


def _machine(select_pass: str) -> type[SelectMachine]:
    name = f"{select_pass.capitalize()}SelectMachine"
    return MACHINE(type(name, (SelectMachine,), {"select_pass": select_pass, "__module__": __name__}))


# One TestCase per pass this build has: TestCSelectModel (where the C pass was built) and
# TestPureSelectModel.
for _pass in SELECT_PASSES:
    globals()[f"Test{_pass.capitalize()}SelectModel"] = _machine(_pass).TestCase
del _pass


# -- fairness ---------------------------------------------------------------------------------------

TRIALS = 3000


def assert_even(counts: list[int], trials: int) -> None:
    """Each of ``len(counts)`` equally likely choices got its share, within 6 standard
    deviations (a false alarm for one count about twice in 10**9 runs)."""
    assert sum(counts) == trials
    p = 1 / len(counts)
    sigma = math.sqrt(trials * p * (1 - p))
    for count in counts:
        assert abs(count - trials * p) <= 6 * sigma, counts


def _prefilled(count: int) -> tuple[Any, Any]:
    tx, rx = mpsc.channel()
    for value in range(count):
        tx.send(value)
    return tx, rx


@pytest.mark.parametrize(
    "form", ["three receives", "duplicate receives", "three sends", "mixed", "builder", "disconnected"]
)
def test_ready_operations_are_chosen_uniformly(select_pass: str, form: str) -> None:
    """Three operations always ready: each is chosen about a third of the time, and each
    completed exactly as counted (values in order, sends delivered, errors with their index)."""
    counts = [0, 0, 0]
    if form in ("three receives", "builder"):
        channels = [_prefilled(TRIALS) for _ in range(3)]
        receivers = [rx for _, rx in channels]
        builder = mpsc.Select(*receivers)
        for _ in range(TRIALS):
            if form == "builder":
                index, value = builder.try_select()
            else:
                index, value = mpsc.select(*receivers, block=False)
            assert value == counts[index]  # each channel's values in order, none skipped
            counts[index] += 1
        for (_, rx), count in zip(channels, counts, strict=True):
            assert len(rx) == TRIALS - count
    elif form == "duplicate receives":
        _tx, rx = _prefilled(TRIALS)
        for expected in range(TRIALS):
            index, value = mpsc.select(rx, rx, rx, timeout=0)
            assert value == expected
            counts[index] += 1
        assert rx.is_empty()
    elif form == "three sends":
        channels = [mpsc.channel(), mpsc.bounded(TRIALS), mpsc.channel()]
        for n in range(TRIALS):
            index, value = mpsc.select(*[(tx, n) for tx, _ in channels], block=False)
            assert value is None
            counts[index] += 1
        for (_, rx), count in zip(channels, counts, strict=True):
            sent = list(rx.try_iter())
            assert len(sent) == count
            assert sent == sorted(sent)
    elif form == "mixed":
        send_tx, send_rx = mpsc.bounded(TRIALS)
        _keep, recv_rx = _prefilled(TRIALS)
        dup_tx, dup_rx = mpsc.channel()
        for n in range(TRIALS):
            index, value = mpsc.select((send_tx, n), recv_rx, (dup_tx, n), block=False)
            counts[index] += 1
        assert (len(send_rx), TRIALS - len(recv_rx), len(dup_rx)) == tuple(counts)
    else:  # every operation ready to fail: its channel is disconnected
        tx0, rx0 = mpsc.channel()
        tx1, rx1 = mpsc.bounded(1)
        tx2, rx2 = mpsc.bounded(2)
        tx0.close()
        rx1.close()
        tx2.close()
        for n in range(TRIALS):
            with pytest.raises((mpsc.RecvError, mpsc.SendError)) as caught:
                mpsc.select(rx0, (tx1, n), rx2, block=False)
            index = caught.value.index
            assert index is not None
            assert isinstance(caught.value, mpsc.SendError if index == 1 else mpsc.RecvError)
            if index == 1:
                assert caught.value.value == n
            counts[index] += 1
    assert_even(counts, TRIALS)


@pytest.mark.parametrize("timer_first", [True, False])
def test_a_due_timer_and_a_ready_channel_are_chosen_evenly(select_pass: str, timer_first: bool) -> None:
    """A timer that is due and a channel with a value: each wins about half the trials, and
    the one that lost is left as it was (the timer still fires, the value is still there)."""
    tx, rx = mpsc.channel()
    tx.send(0)
    sent = 0
    counts = [0, 0]  # timer, channel
    for _ in range(TRIALS):
        when = time.monotonic() - 1
        timer = mpsc.at(when)
        ops = (timer, rx) if timer_first else (rx, timer)
        index, value = mpsc.select(*ops, block=False)
        took_timer = ops[index] is timer
        if took_timer:
            assert value == when
            assert len(rx) == 1
        else:
            assert value == sent
            assert timer.try_recv() == when  # the timer was not spent
            sent += 1
            tx.send(sent)
        counts[0 if took_timer else 1] += 1
        timer.close()
    assert_even(counts, TRIALS)
