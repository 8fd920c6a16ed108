"""Timers (DESIGN.md section 2): after, at, tick, never -- alone, in select, and closed.

A timer's values are ``time.monotonic()`` instants, the *scheduled* ones, not the moments they
were read. ``after``/``at`` deliver one value (shared by clones: once in total), ``tick`` one
per period and at most one pending (ticks a slow reader missed are dropped), ``never`` nothing.
Timers have no thread, no sender and never disconnect.

These tests are about time, so they sleep; sleeps are tens of milliseconds, lower bounds are
strict (a timer never fires early) and upper bounds generous (slow CI machines): SLACK.
"""

from __future__ import annotations

import asyncio
import math
import threading
import time
from collections import Counter
from fractions import Fraction
from itertools import pairwise
from typing import Any

import pytest
from helpers import (
    WAIT,
    Worker,
    blocked_receivers,
    nothing_queued,
    run_all,
    threads_started_since,
    wait_until,
)

import mpsc

# Every test here runs with each try pass of select: the C one and the pure one (conftest).
pytestmark = pytest.mark.usefixtures("select_pass")

SLACK = 0.5  # how late a timer may be observed on a slow machine
EPS = 1e-9  # float rounding in instant arithmetic


def idle(*handles: Any) -> bool:
    return nothing_queued(*handles)


def assert_silent(r: mpsc.Receiver[Any]) -> None:
    """``r`` delivers nothing: not now, not within a timeout, not in a select — where it only
    disables its arm (crossbeam never.rs) and another ready operation completes."""
    with pytest.raises(mpsc.Empty):
        r.try_recv()
    start = time.monotonic()
    with pytest.raises(mpsc.Timeout):
        r.recv_timeout(0.02)
    assert time.monotonic() - start >= 0.02
    with pytest.raises(mpsc.Empty):
        mpsc.select(r, block=False)
    with pytest.raises(mpsc.Timeout):
        mpsc.select(r, timeout=0.02)
    tx, rx = mpsc.channel()
    tx.send("other")
    assert mpsc.select(r, rx, timeout=WAIT) == (1, "other")


def sleep_until(instant: float) -> None:
    while (remaining := instant - time.monotonic()) > 0:
        time.sleep(remaining)


# -- after -------------------------------------------------------------------------------------


def test_after_delivers_its_scheduled_instant_once() -> None:
    before = time.monotonic()
    r = mpsc.after(0.05)
    created = time.monotonic()
    with pytest.raises(mpsc.Empty):
        r.try_recv()
    fired = r.recv_timeout(WAIT)
    now = time.monotonic()
    assert before + 0.05 <= fired <= created + 0.05  # the scheduled instant, never early
    assert fired <= now < fired + SLACK
    with pytest.raises(mpsc.Empty):
        r.try_recv()
    start = time.monotonic()
    with pytest.raises(mpsc.Timeout):  # fired once; later waits time out, it never disconnects
        r.recv_timeout(0.03)
    assert time.monotonic() - start >= 0.03
    assert not r.is_disconnected()
    assert idle(r)


def test_after_value_is_the_scheduled_instant_not_the_read_time() -> None:
    before = time.monotonic()
    r = mpsc.after(0.02)
    created = time.monotonic()
    sleep_until(created + 0.08)
    fired = r.try_recv()
    read = time.monotonic()
    assert before + 0.02 <= fired <= created + 0.02  # scheduled when created
    assert read - fired >= 0.05  # read later than scheduled; the value does not move
    with pytest.raises(mpsc.Empty):
        r.try_recv()


def test_after_zero_is_ready_at_once_and_later_ones_are_not() -> None:
    for _ in range(10):
        start = time.monotonic()
        r = mpsc.after(0)
        assert start <= r.try_recv() <= time.monotonic()
    for _ in range(10):
        with pytest.raises(mpsc.Empty):
            mpsc.after(1.0).try_recv()
    assert mpsc.after(Fraction(1, 100)).recv_timeout(WAIT) > 0
    assert mpsc.after(0).recv_timeout(0) > 0


def test_after_len_is_empty_is_full_and_capacity() -> None:
    before = time.monotonic()
    r = mpsc.after(0.03)
    created = time.monotonic()
    assert r.capacity == 1
    state = (len(r), r.is_empty(), r.is_full())
    if time.monotonic() < before + 0.03:  # (not due yet)
        assert state == (0, True, False)
    sleep_until(created + 0.05)  # (due at created + 0.03 at the latest; before + 0.03 may be later)
    assert (len(r), r.is_empty(), r.is_full()) == (1, False, True)
    r.try_recv()
    assert (len(r), r.is_empty(), r.is_full()) == (0, True, False)
    assert r.capacity == 1


def test_after_recv_timeout_and_recv_deadline() -> None:
    # crossbeam after.rs recv_timeout (1 s, 500 ms), shortened. The timer is due long after the
    # two waits: a wait woken late past the timer's instant (with after(0.25), a stall of 0.2 s)
    # finds it due, and the next one rightly returns it although its deadline has passed.
    start = time.monotonic()
    r = mpsc.after(0.6)
    with pytest.raises(mpsc.Timeout):
        r.recv_timeout(0.03)
    assert time.monotonic() - start >= 0.03
    with pytest.raises(mpsc.Timeout):
        r.recv_deadline(start + 0.06)
    assert time.monotonic() >= start + 0.06
    fired = r.recv_deadline(time.monotonic() + WAIT)
    assert start + 0.6 <= fired <= time.monotonic() < start + 0.6 + SLACK
    with pytest.raises(mpsc.Timeout):
        r.recv_timeout(0.02)


def test_after_clones_share_the_one_value() -> None:
    r = mpsc.after(0.03)
    c = r.clone()
    assert r.same_channel(c)
    assert not r.same_channel(mpsc.after(0.03))
    stop_tx, stop_rx = mpsc.channel()
    takers = [Worker(mpsc.select, handle, stop_rx) for handle in (r, c)]
    wait_until(lambda: any(taker.done.is_set() for taker in takers))
    stop_tx.close()  # the other one gives up
    results = []
    for taker in takers:
        try:
            results.append(taker.join())
        except mpsc.RecvError as gone:
            assert gone.index == 1
    assert len(results) == 1
    index, fired = results[0]
    assert index == 0
    with pytest.raises(mpsc.Empty):
        r.try_recv()
    with pytest.raises(mpsc.Empty):
        c.try_recv()
    c.close()  # closing a clone does not touch the original
    assert not r.is_disconnected()
    with pytest.raises(mpsc.Empty):
        r.try_recv()


def test_two_threads_selecting_over_the_same_two_afters_get_one_each() -> None:
    # crossbeam after.rs recv_two.
    a = mpsc.after(0.03)
    b = mpsc.after(0.03)
    results = run_all(lambda: mpsc.select(a, b, timeout=WAIT), lambda: mpsc.select(a, b, timeout=WAIT))
    assert sorted(index for index, _ in results) == [0, 1]
    assert idle(a, b)


def test_many_afters_shared_by_selecting_threads_deliver_once_each() -> None:
    # crossbeam after.rs select: 200 afters due within a few ms, four threads selecting over
    # all of them plus their own after(0.1) as a timeout; every after is taken exactly once.
    count = 200
    timers = [mpsc.after(i / 50_000) for i in range(count)]

    def take() -> list[int]:
        got = []
        while True:
            timeout = mpsc.after(0.1)
            index, _ = mpsc.select(*timers, timeout, timeout=WAIT)
            if index == count:
                return got
            got.append(index)

    results = run_all(take, take, take, take)
    taken = [index for got in results for index in got]
    assert len(taken) == len(set(taken)), "an after was delivered twice"
    leftovers = [i for i, timer in enumerate(timers) if len(timer)]
    for i in leftovers:  # a descheduled thread may have picked its timeout over a ready timer
        timers[i].try_recv()
    assert sorted(taken + leftovers) == list(range(count))
    assert len(taken) > count // 2


# -- at ----------------------------------------------------------------------------------------


def test_at_in_the_past_fires_at_once_with_that_instant() -> None:
    instant = time.monotonic() - 1.0
    r = mpsc.at(instant)
    assert len(r) == 1
    assert r.try_recv() == instant
    with pytest.raises(mpsc.Empty):
        r.try_recv()
    empty_tx, empty_rx = mpsc.channel()
    assert mpsc.select(empty_rx, mpsc.at(instant), block=False) == (1, instant)


def test_at_delivers_exactly_the_given_instant_and_not_before() -> None:
    instant = time.monotonic() + 0.04
    r = mpsc.at(instant)
    try:
        early: float | None = r.try_recv()
    except mpsc.Empty:
        early = None
    if time.monotonic() < instant:  # (not due yet)
        assert early is None
    assert (early if early is not None else r.recv_timeout(WAIT)) == instant
    assert instant <= time.monotonic() < instant + SLACK
    assert r.capacity == 1


# -- huge, infinite and bad durations ---------------------------------------------------------


NEVER_FIRING = {
    "after(inf)": lambda: mpsc.after(math.inf),
    "after(1e300)": lambda: mpsc.after(1e300),
    "after(10**400)": lambda: mpsc.after(10**400),
    "after(10**12)": lambda: mpsc.after(10**12),
    "at(inf)": lambda: mpsc.at(math.inf),
    "at(1e300)": lambda: mpsc.at(1e300),
    "at(10**400)": lambda: mpsc.at(10**400),
    "tick(inf)": lambda: mpsc.tick(math.inf),
    "tick(1e300)": lambda: mpsc.tick(1e300),
    "tick(10**400)": lambda: mpsc.tick(10**400),
    "never()": mpsc.never,
}


@pytest.mark.parametrize("make", list(NEVER_FIRING.values()), ids=list(NEVER_FIRING))
def test_huge_and_infinite_durations_never_fire_and_do_not_raise(make: Any) -> None:
    r = make()
    assert_silent(r)
    assert len(r) == 0
    assert r.is_empty()
    assert not r.is_disconnected()
    assert repr(r)
    assert idle(r)


@pytest.mark.parametrize(
    ("call", "error"),
    [
        (lambda: mpsc.after(-1), ValueError),
        (lambda: mpsc.after(-1e-9), ValueError),
        (lambda: mpsc.after(-math.inf), ValueError),
        (lambda: mpsc.after(-(10**400)), ValueError),
        (lambda: mpsc.after(math.nan), ValueError),
        (lambda: mpsc.after("1"), TypeError),
        (lambda: mpsc.after(None), TypeError),
        (lambda: mpsc.after(True), TypeError),
        (lambda: mpsc.after(1j), TypeError),
        (lambda: mpsc.tick(-0.5), ValueError),
        (lambda: mpsc.tick(-(10**400)), ValueError),
        (lambda: mpsc.tick(math.nan), ValueError),
        (lambda: mpsc.tick("1"), TypeError),
        (lambda: mpsc.tick(None), TypeError),
        (lambda: mpsc.at(math.nan), ValueError),
        (lambda: mpsc.at("now"), TypeError),
        (lambda: mpsc.at(None), TypeError),
    ],
    ids=[
        "after-1",
        "after-tiny-negative",
        "after-neg-inf",
        "after-huge-negative",
        "after-nan",
        "after-str",
        "after-none",
        "after-bool",
        "after-complex",
        "tick-negative",
        "tick-huge-negative",
        "tick-nan",
        "tick-str",
        "tick-none",
        "at-nan",
        "at-str",
        "at-none",
    ],
)
def test_bad_durations_raise(call: Any, error: type[Exception]) -> None:
    with pytest.raises(error):
        call()


# -- tick --------------------------------------------------------------------------------------


def test_tick_values_are_scheduled_instants_a_period_apart() -> None:
    period = 0.03
    before = time.monotonic()
    r = mpsc.tick(period)
    created = time.monotonic()
    values = []
    reads = []
    for _ in range(5):
        values.append(r.recv_timeout(WAIT))
        reads.append(time.monotonic())
    assert before + period <= values[0] <= created + period
    for k in range(4):
        assert values[k] <= reads[k]  # never early
        gap = values[k + 1] - values[k]
        assert gap >= period - EPS
        if reads[k] - values[k] < period:  # read in time: the rhythm is kept exactly
            assert gap == pytest.approx(period, abs=1e-6)
    assert values[-1] - values[0] < 4 * period + SLACK


def test_tick_drops_missed_ticks() -> None:
    # crossbeam tick.rs intervals, as Tick.poll documents it: a reader more than a period late
    # gets the stale scheduled instant, the ticks it missed are dropped (at most one pending),
    # and the next tick comes a full period after the late read.
    p = 0.04
    start = time.monotonic()
    r = mpsc.tick(p)
    t1 = r.recv_timeout(WAIT)
    assert start + p <= t1 < start + p + SLACK
    slept_from = time.monotonic()
    sleep_until(slept_from + 5 * p)  # four or five ticks missed
    late_before = time.monotonic()
    t2 = r.try_recv()
    late_after = time.monotonic()
    # The pending tick is the one scheduled after t1 (t1 + p if t1 was read in time).
    assert t1 + p - EPS <= t2 <= slept_from + p
    assert late_before - t2 >= 3 * p  # stale: scheduled long before it was read
    try:
        extra: float | None = r.try_recv()
    except mpsc.Empty:
        extra = None
    if time.monotonic() < late_before + p:  # none can be due yet: the missed ones were dropped
        assert extra is None
    t3 = extra if extra is not None else r.recv_timeout(WAIT)
    assert late_before + p <= t3 <= late_after + p  # a full period after the late read
    assert t3 - t2 >= 4 * p


def test_tick_len_is_empty_is_full_and_capacity() -> None:
    start = time.monotonic()
    r = mpsc.tick(0.03)
    created = time.monotonic()
    assert r.capacity == 1
    state = (len(r), r.is_empty(), r.is_full())
    if time.monotonic() < start + 0.03:  # (the first tick is due no earlier)
        assert state == (0, True, False)
    sleep_until(created + 0.1)  # (the first tick is due at created + 0.03 at the latest)
    assert (len(r), r.is_empty(), r.is_full()) == (1, False, True)  # missed ticks: still one
    took = time.monotonic()
    r.try_recv()
    after_take = (len(r), r.is_empty(), r.is_full())
    if time.monotonic() < took + 0.03:  # the next tick is a period after the late read
        assert after_take == (0, True, False)
    assert r.capacity == 1


def test_tick_recv_timeout() -> None:
    period = 0.1
    before = time.monotonic()
    r = mpsc.tick(period)
    try:
        value: float | None = r.recv_timeout(0.02)
    except mpsc.Timeout:
        value = None
        assert time.monotonic() - before >= 0.02
    if value is not None:  # only on a machine stalled past the first tick
        assert value >= before + period
    assert r.recv_timeout(WAIT) >= before + period
    assert not r.is_disconnected()


def test_tick_zero_is_always_ready() -> None:
    r = mpsc.tick(0)
    values = [r.try_recv() for _ in range(20)]
    assert values == sorted(values)
    assert mpsc.select(r, block=False)[0] == 0


def test_two_threads_selecting_over_shared_ticks_never_share_a_tick() -> None:
    # crossbeam tick.rs recv_two: each tick value is delivered to one reader only.
    a = mpsc.tick(0.005)
    b = mpsc.tick(0.005)

    def take() -> list[tuple[int, float]]:
        return [mpsc.select(a, b, timeout=WAIT) for _ in range(10)]

    results = run_all(take, take)
    got = [item for result in results for item in result]
    assert len(got) == 20
    assert len(set(got)) == 20, "a tick was delivered twice"
    for result in results:  # each reader sees each ticker's instants in increasing order
        for ticker in (0, 1):
            mine = [value for index, value in result if index == ticker]
            assert mine == sorted(mine)


def test_select_over_a_tick_and_a_quit_channel() -> None:
    period = 0.01
    quit_tx, quit_rx = mpsc.sync_channel(0)
    progress_tx, progress_rx = mpsc.channel()

    def ticker() -> list[float]:
        ticks = mpsc.tick(period)
        seen = []
        while True:
            index, value = mpsc.select(ticks, quit_rx, timeout=WAIT)
            if index == 1:
                assert value == "stop"
                return seen
            seen.append(value)
            progress_tx.send(len(seen))

    worker = Worker(ticker)
    while progress_rx.recv_timeout(WAIT) < 3:
        pass
    quit_tx.send_timeout("stop", WAIT)
    seen = worker.join()
    assert len(seen) >= 3
    assert all(b - a >= period - EPS for a, b in pairwise(seen))
    assert idle(quit_rx)


def test_tick_switched_off_with_never_ends_through_the_timeout() -> None:
    # crossbeam never.rs tick_n: after 10 ticks the tick arm is replaced by never(); the loop
    # then ends through the select's timeout. As there (100 ms ticks, 500 ms timeout), a tick
    # is due long before the timeout: a select of one operation woken at its tick only once
    # the timeout has passed too (a stall of 95 ms with a 100 ms timeout) raises Timeout.
    r: mpsc.Receiver[float] = mpsc.tick(0.005)
    step = 0
    while True:
        try:
            mpsc.select(r, timeout=0.5)
        except mpsc.Timeout:
            break
        step += 1
        if step == 10:
            r = mpsc.never()
    assert step == 10


# -- never -------------------------------------------------------------------------------------


def test_never_delivers_nothing_ever() -> None:
    r = mpsc.never()
    assert r.capacity == 0
    assert (len(r), r.is_empty(), r.is_full()) == (0, True, True)
    assert r.same_channel(mpsc.never())
    assert not r.same_channel(mpsc.after(0))
    assert not r.is_disconnected()
    assert_silent(r)
    with pytest.raises(mpsc.Timeout):
        mpsc.select(r, r, timeout=0.02)
    assert idle(r)


def test_never_handles_are_independent_owners() -> None:
    first = mpsc.never()
    second = mpsc.never()
    first.close()
    with pytest.raises(mpsc.ClosedHandleError):
        first.try_recv()
    with pytest.raises(mpsc.Empty):
        second.try_recv()
    with pytest.raises(mpsc.Timeout):
        second.recv_timeout(0.01)
    third = second.clone()
    second.close()
    with pytest.raises(mpsc.Empty):
        third.try_recv()
    assert not third.is_disconnected()


# -- closing a timer handle --------------------------------------------------------------------


CLOSABLE = {
    "after": lambda: mpsc.after(1e6),
    "after(inf)": lambda: mpsc.after(math.inf),
    "at(inf)": lambda: mpsc.at(math.inf),
    "tick": lambda: mpsc.tick(1e6),
    "never": mpsc.never,
}


@pytest.mark.parametrize("make", list(CLOSABLE.values()), ids=list(CLOSABLE))
def test_close_wakes_a_recv_blocked_on_the_timer(make: Any) -> None:
    r = make()
    start = time.monotonic()
    blocked = Worker(r.recv_timeout, WAIT)
    wait_until(lambda: blocked_receivers(r) == 1)
    r.close()
    with pytest.raises(mpsc.ClosedHandleError):
        blocked.join()
    assert time.monotonic() - start < WAIT / 2  # woken by close, not by the timeout
    with pytest.raises(mpsc.ClosedHandleError):
        r.try_recv()
    with pytest.raises(mpsc.ClosedHandleError):
        len(r)


@pytest.mark.parametrize("make", list(CLOSABLE.values()), ids=list(CLOSABLE))
def test_close_wakes_a_select_blocked_on_the_timer(make: Any) -> None:
    r = make()
    tx, rx = mpsc.channel()
    blocked = Worker(mpsc.select, rx, r)
    wait_until(lambda: blocked_receivers(r) == 1 and blocked_receivers(rx) == 1)
    r.close()
    with pytest.raises(mpsc.ClosedHandleError):
        blocked.join()
    assert idle(rx)
    tx.send("still works")
    assert rx.try_recv() == "still works"


def test_closing_one_never_handle_wakes_only_its_own_waiter() -> None:
    mine = mpsc.never()
    other = mpsc.never()
    base = blocked_receivers(mine)
    my_wait = Worker(mine.recv_timeout, WAIT)
    wait_until(lambda: blocked_receivers(mine) == base + 1)
    other_wait = Worker(other.recv_timeout, WAIT)
    wait_until(lambda: blocked_receivers(mine) == base + 2)  # one channel: never() is a singleton
    mine.close()
    with pytest.raises(mpsc.ClosedHandleError):
        my_wait.join()
    assert blocked_receivers(other) == base + 1
    assert not other_wait.done.is_set()
    other.close()
    with pytest.raises(mpsc.ClosedHandleError):
        other_wait.join()


def test_closing_a_clone_does_not_wake_a_recv_on_the_original() -> None:
    created = time.monotonic()
    r = mpsc.after(0.2)
    c = r.clone()
    waiting = Worker(r.recv_timeout, WAIT)
    wait_until(lambda: blocked_receivers(r) == 1 or waiting.done.is_set())
    c.close()
    fired = waiting.join()  # the value, not ClosedHandleError
    assert created + 0.2 <= fired <= time.monotonic()


# -- timers in select --------------------------------------------------------------------------


def test_an_earlier_after_beats_a_later_one_in_either_order() -> None:
    # crossbeam after.rs recv_race; the losing timer is left untouched and fires later.
    before = time.monotonic()
    fast1, slow1 = mpsc.after(0.02), mpsc.after(0.5)
    fast2, slow2 = mpsc.after(0.02), mpsc.after(0.5)
    created = time.monotonic()
    index, fired = mpsc.select(fast1, slow1, timeout=WAIT)
    assert index == 0
    assert before + 0.02 <= fired <= created + 0.02
    index, fired = mpsc.select(slow2, fast2, timeout=WAIT)
    assert index == 1
    assert fired <= created + 0.02
    assert len(slow1) == 0
    with pytest.raises(mpsc.Empty):
        slow2.try_recv()
    late1 = slow1.recv_timeout(WAIT)
    late2 = slow2.recv_timeout(WAIT)
    assert before + 0.5 <= late1 <= created + 0.5
    assert before + 0.5 <= late2 <= created + 0.5
    assert idle(fast1, slow1, fast2, slow2)


def test_a_tick_beats_a_slower_tick() -> None:
    # crossbeam tick.rs recv_race.
    fast, slow = mpsc.tick(0.02), mpsc.tick(10.0)
    assert mpsc.select(slow, fast, timeout=WAIT)[0] == 1
    assert mpsc.select(fast, slow, timeout=WAIT)[0] == 0


def test_select_timeout_and_a_timer_arm() -> None:
    r = mpsc.after(1.0)
    start = time.monotonic()
    with pytest.raises(mpsc.Timeout):
        mpsc.select(r, timeout=0.03)
    assert time.monotonic() - start >= 0.03
    assert idle(r)
    # The other way round: a timer due before the select's timeout wins.
    soon = mpsc.after(0.02)
    assert mpsc.select(soon, timeout=WAIT)[0] == 0


def test_timers_are_not_send_operations() -> None:
    r = mpsc.after(0)
    with pytest.raises(TypeError):
        mpsc.select((r, 1))
    assert len(r) == 1


def test_select_fairness_with_timer_arms() -> None:
    # crossbeam select.rs fairness1: bounded and unbounded channels always ready, plus a fresh
    # after(0) and tick(0) each round; each of the four arms wins about a quarter of the time
    # (bound: 7 standard deviations of Binomial(10 000, 1/4)).
    trials = 10_000
    btx, brx = mpsc.sync_channel(trials)
    utx, urx = mpsc.channel()
    for i in range(trials):
        btx.send(i)
        utx.send(i)
    wins = Counter(mpsc.select(brx, urx, mpsc.after(0), mpsc.tick(0), timeout=WAIT)[0] for _ in range(trials))
    sd = math.sqrt(trials * 0.25 * 0.75)
    for arm in range(4):
        assert abs(wins[arm] - trials / 4) <= 7 * sd, wins


@pytest.mark.parametrize("arms", [2, 5])
def test_duplicate_timer_arms_are_chosen_fairly(arms: int) -> None:
    # crossbeam after.rs / tick.rs fairness_duplicates.
    trials = 5000
    r = mpsc.tick(0)
    wins = Counter(mpsc.select(*[r] * arms, timeout=WAIT)[0] for _ in range(trials))
    p = 1 / arms
    sd = math.sqrt(trials * p * (1 - p))
    for arm in range(arms):
        assert abs(wins[arm] - trials * p) <= 7 * sd, wins
    fresh = Counter(mpsc.select(mpsc.after(0), mpsc.after(0), timeout=WAIT)[0] for _ in range(trials))
    sd = math.sqrt(trials * 0.25)
    assert abs(fresh[0] - trials / 2) <= 7 * sd, fresh


def test_select_builder_with_timers() -> None:
    quit_tx, quit_rx = mpsc.channel()
    sel = mpsc.Select()
    tick_index = sel.recv(mpsc.tick(0.005))
    quit_index = sel.recv(quit_rx)
    sel.recv(mpsc.never())
    ticks = 0
    while True:
        index, value = sel.select(timeout=WAIT)
        if index == quit_index:
            assert value == "quit"
            break
        assert index == tick_index
        ticks += 1
        if ticks == 5:
            quit_tx.send("quit")
            sel.remove(tick_index)
    assert ticks == 5


# -- asyncio -----------------------------------------------------------------------------------


def test_timers_with_asyncio() -> None:
    async def main() -> None:
        created = time.monotonic()
        fired = await mpsc.after(0.03).recv_async()
        assert created + 0.03 - EPS <= fired <= time.monotonic()
        fast, slow = mpsc.after(0.02), mpsc.after(0.5)
        index, _ = await mpsc.select_async(slow, fast, timeout=WAIT)
        assert index == 1
        ticks = mpsc.tick(0.005)
        values = [(await mpsc.select_async(ticks, mpsc.never(), timeout=WAIT))[1] for _ in range(3)]
        assert values == sorted(values)
        with pytest.raises(mpsc.Timeout):
            await mpsc.select_async(mpsc.never(), timeout=0.02)
        assert idle(slow, ticks)

    asyncio.run(main())


def test_no_thread_per_timer() -> None:
    before = set(threading.enumerate())
    timers = [mpsc.after(10.0) for _ in range(100)] + [mpsc.tick(10.0) for _ in range(100)]
    assert threads_started_since(before) == set()
    assert all(len(timer) == 0 for timer in timers)
