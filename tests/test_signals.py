"""Invariants 1 and 7 under real signals: a handler that raises, fired at random moments.

The main thread receives, sends, selects or iterates under traffic while another thread sends
it SIGUSR1 every few dozen microseconds; the handler raises KeyboardInterrupt, TimeoutError (as
an alarm handler would) or SystemExit (as a SIGTERM handler calling ``sys.exit`` would) — but
only while the main thread is inside an mpsc call (``armed``), so that the test's own
bookkeeping is never cut short. Every value is counted at the end: each one received exactly
once or still in the channel; a send that raised delivered nothing (and is retried, so that a
send that raised *and* delivered shows up as a duplicate); every exception raised.
"""

from __future__ import annotations

import _thread
import gc
import random
import signal
import sys
import sysconfig
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from helpers import WAIT, Worker, make

import mpsc
from mpsc import _select

SELECT_PASSES = ["c", "pure"] if _select.PASS is not None else ["pure"]

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")

KINDS: dict[str, Callable[[], BaseException]] = {
    "KeyboardInterrupt": KeyboardInterrupt,
    "TimeoutError": lambda: TimeoutError("alarm"),
    "SystemExit": lambda: SystemExit(3),
}
CAUGHT = (KeyboardInterrupt, TimeoutError, SystemExit)
FREE_THREADED = bool(sysconfig.get_config_var("Py_GIL_DISABLED"))


class Firing:
    """SIGUSR1 at random moments, whose handler raises only while ``armed`` is set."""

    def __init__(self, kind: Callable[[], BaseException], gap: float = 0.0001) -> None:
        self.kind = kind
        self.gap = gap
        self.armed = False
        self.raised = 0
        self.stop = threading.Event()

    def handler(self, signum: int, frame: object) -> None:
        if self.armed:
            self.armed = False
            self.raised += 1
            raise self.kind()

    def _fire(self, target: int) -> None:
        while not self.stop.is_set():
            time.sleep(random.uniform(0, self.gap))
            if FREE_THREADED:
                # CPython's free-threaded 3.13 can crash when an OS signal interrupts a thread
                # waiting for one of its internal locks (gh-148820): there, set the signal as
                # pending without an OS signal. The handler then runs at the main thread's next
                # check point as before, but cannot cut short a wait in progress (the
                # check-point test covers those one by one).
                _thread.interrupt_main(signal.SIGUSR1)
            else:
                signal.pthread_kill(target, signal.SIGUSR1)

    @contextmanager
    def running(self) -> Iterator[Firing]:
        # No collection of earlier tests' garbage meanwhile: a handler's exception landing at
        # the first instruction of a finalizer is reported and dropped by CPython, whoever's.
        gc.collect()
        gc.disable()
        previous = signal.signal(signal.SIGUSR1, self.handler)
        firer = threading.Thread(target=self._fire, args=(threading.get_ident(),), daemon=True)
        firer.start()
        try:
            yield self
        finally:
            self.armed = False
            self.stop.set()
            firer.join(WAIT)
            signal.signal(signal.SIGUSR1, previous)
            gc.enable()


def checkpoint() -> None:
    """A point where CPython raises what is pending: the start of a Python function. (Not a call
    like ``list.append``, which 3.11 runs inline, checking nothing.) An exception that an mpsc
    call raised right after it returned lands here at the latest."""


def duration(request: Any) -> float:
    """How long the traffic runs: long enough for hundreds of interrupts, minutes with --stress."""
    return 60.0 if request.config.getoption("--stress") else 0.15


def _paced(tx: mpsc.Sender[Any], seconds: float, sent: list[int], firing: Firing) -> None:
    """Send 0, 1, 2, ... for ``seconds`` and until the receiver met a few interrupts (on a busy
    machine the firing thread may be slow to start), pausing now and then so that the receiver
    waits. Bounded: a run in which the handler never raised fails its test."""
    start = time.monotonic()
    with tx:
        value = 0
        while (elapsed := time.monotonic() - start) < seconds or (firing.raised < 10 and elapsed < 10):
            tx.send(value)
            sent.append(value)
            value += 1
            if value % 8 == 0:
                time.sleep(random.uniform(0, 0.0002))


def _check_received(got: list[Any], rx: mpsc.Receiver[Any], n: int) -> None:
    got += rx.try_iter()
    counts = Counter(got)
    assert not [value for value, count in counts.items() if count > 1], "received twice"
    assert sorted(counts) == list(range(n)), f"lost: {sorted(set(range(n)) - set(counts))[:10]}"


RECEIVES = [("recv", "pure"), ("recv_timeout", "pure"), ("for", "pure")] + [
    ("select", select_pass) for select_pass in SELECT_PASSES
]
SENDS = [("send", "pure"), ("send_timeout", "pure")] + [
    ("select", select_pass) for select_pass in SELECT_PASSES
]


def _use(select_pass: str, monkeypatch: pytest.MonkeyPatch) -> None:
    if select_pass == "pure":
        monkeypatch.setattr(_select, "PASS", None)


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("cap", [None, 1, 0])
@pytest.mark.parametrize(("how", "select_pass"), RECEIVES)
def test_receiving_under_signals_loses_nothing(
    how: str, select_pass: str, cap: int | None, kind: str, request: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    _use(select_pass, monkeypatch)
    tx, rx = make(cap)
    other_tx, other_rx = mpsc.channel()
    sent: list[int] = []
    got: list[Any] = []
    firing = Firing(KINDS[kind])
    producer = Worker(_paced, tx, duration(request), sent, firing)
    interrupted = 0
    with firing.running():
        done = False
        while not done:
            try:
                if how == "for":
                    firing.armed = True
                    for value in rx:
                        firing.armed = False
                        got.append(value)
                        checkpoint()
                        firing.armed = True
                    firing.armed = False
                    done = True
                    continue
                firing.armed = True
                if how == "recv":
                    value = rx.recv()
                elif how == "recv_timeout":
                    value = rx.recv_timeout(WAIT)
                else:
                    value = mpsc.select(rx, other_rx)[1]
                firing.armed = False
                got.append(value)
                checkpoint()  # an exception raised after the call returned lands here
            except mpsc.RecvError:
                firing.armed = False
                done = True
            except CAUGHT:
                firing.armed = False
                interrupted += 1
    producer.join()
    _check_received(got, rx, len(sent))
    assert interrupted == firing.raised  # none lost, none raised twice
    assert interrupted > 0  # the traffic did meet interrupts: the test had teeth
    del other_tx


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("cap", [None, 1, 0])
@pytest.mark.parametrize(("how", "select_pass"), SENDS)
def test_sending_under_signals_delivers_exactly_what_returned(
    how: str, select_pass: str, cap: int | None, kind: str, request: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    _use(select_pass, monkeypatch)
    tx, rx = make(cap)
    other_tx, other_rx = mpsc.sync_channel(0)  # never ready: nobody receives from it
    received: list[Any] = []

    def consumer() -> None:  # paced, so that a bounded sender waits for room
        for value in rx:
            received.append(value)
            if cap is not None and value % 8 == 0:
                time.sleep(random.uniform(0, 0.0002))

    reader = Worker(consumer)
    firing = Firing(KINDS[kind])
    interrupted = 0
    sent: list[int] = []
    start = time.monotonic()
    with firing.running():
        value = 0
        # (a few interrupts at least, where sends wait: see _paced)
        while (elapsed := time.monotonic() - start) < duration(request) or (
            cap is not None and firing.raised < 10 and elapsed < 10
        ):
            returned = False
            try:
                firing.armed = True
                if how == "send":
                    tx.send(value)
                elif how == "send_timeout":
                    tx.send_timeout(value, WAIT)
                else:
                    mpsc.select((tx, value), (other_tx, value))
                firing.armed = False
                returned = True
                sent.append(value)
                checkpoint()  # an exception raised after the call returned lands here
            except CAUGHT:
                firing.armed = False
                interrupted += 1
            if returned:
                value += 1  # else the same value again: a send that raised must not have sent it
                if cap is None and value % 8 == 0:  # (paced, so that the receiver waits)
                    time.sleep(random.uniform(0, 0.0002))
    tx.close()
    reader.join()
    counts = Counter(received)
    assert not [v for v, c in counts.items() if c > 1], "a send that raised had delivered its value"
    assert sorted(counts) == list(range(value)), f"lost: {sorted(set(range(value)) - set(counts))[:10]}"
    assert sent == list(range(value))
    assert interrupted == firing.raised
    # Sends that wait met interrupts (the test had teeth); an unbounded send takes a fraction of
    # a microsecond, which a signal seldom hits (the check-point test covers it point by point).
    assert interrupted > 0 or cap is None
    del other_rx
