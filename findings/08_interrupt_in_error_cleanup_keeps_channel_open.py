"""Finding 08: an exception landing while a call cleans up after its own error (Empty, Full,
Timeout, ...) leaves the handle's endpoint marked busy for ever: closing the handle then never
closes its fds, so the channel never disconnects (the peer's recv waits for ever instead of
RecvError, or its send succeeds into a channel nobody can read instead of SendError), and the fds
leak.

Cause (code reading): in `Receiver._recv` / `recv_async` the except-path runs
`exc = complete(_Receiving.end, call, exc)` with no `try` around it, and `Sender._send` /
`send_async` run `call.happened()` and `complete(_Sending.end, call, exc)` likewise
(src/mpsc/process/_handles.py, the except blocks of _send and _recv: compare the calls of
`complete(_Sending.decide, ...)`/`complete(_wire.settle, ...)` just above them, which are wrapped
"as complete() started"). An exception that lands as `complete()` or `happened()` starts (a
check point: a Python function's start) propagates past them, so `endpoint.leave(call)` never
runs: `Endpoint.busy` stays 1 and `_settle_locked` never closes the fds.

The same happens with no error at all in `len()`, `is_empty()`, `is_full()` and
`is_disconnected()`: their `finally: endpoint.leave(use)` (`_handles.py:157`, `:168`) is skipped
by an exception landing as `leave` starts (1 of ~14 check points each).

Realistic trigger: Ctrl-C (or any signal handler that raises) in a polling loop of
`try_recv()`/`try_send()`, where most calls end in Empty/Full and so run this cleanup.

Promise broken: module doc "Interrupts: whatever exception lands in a call ..., the call either
did not happen (it propagates, the channel is as it was)"; DESIGN §4.7 "no waiter is left that
nobody wakes, no permit that nobody returns"; Sender/Receiver.close(): "Releasing the last Sender
anywhere lets receivers drain what was sent and then see RecvError; releasing the last Receiver
anywhere ... makes every send fail with SendError".

Method: tests/checkpoints.py's SignalInjector raises KeyboardInterrupt at the n-th real check
point of one call (n = 1, 2, ...); then the handle is closed and the other side is checked.
Exit status 1 when the problem shows.
"""

from __future__ import annotations

import gc
import os
import signal
import sys
import time
from collections.abc import Callable
from typing import Any

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))
from checkpoints import SignalInjector

import mpsc
import mpsc.process as mpp


def try_recv_empty() -> tuple[Any, Any, Callable[[], Any], str]:
    tx, rx = mpp.sync_channel(2)
    return tx, rx, rx.try_recv, "rx"


def recv_timeout_empty() -> tuple[Any, Any, Callable[[], Any], str]:
    tx, rx = mpp.channel()
    return tx, rx, lambda: rx.recv_timeout(0), "rx"


def try_send_full() -> tuple[Any, Any, Callable[[], Any], str]:
    tx, rx = mpp.sync_channel(1)
    tx.send("fills it")
    return tx, rx, lambda: tx.try_send("x"), "tx"


def len_of_bounded() -> tuple[Any, Any, Callable[[], Any], str]:
    tx, rx = mpp.sync_channel(2)
    return tx, rx, lambda: len(rx), "rx"


def is_disconnected() -> tuple[Any, Any, Callable[[], Any], str]:
    tx, rx = mpp.channel()
    return tx, rx, rx.is_disconnected, "rx"


def run(make: Callable[[], tuple[Any, Any, Callable[[], Any], str]], n: int) -> tuple[bool, str]:
    tx, rx, call, side = make()
    inj = SignalInjector(n, 10**9)
    inj.call(call)
    fired, where = inj.fired, inj.where
    e = inj.raised[0] if inj.raised else None
    while e is not None:  # no traceback may keep the call's frames alive
        e.__traceback__ = None
        e = e.__context__
    del inj
    gc.collect()
    problem = ""
    if side == "rx":
        rx.close()  # the last Receiver
        try:
            tx.send("into a channel nobody can read")
            problem = f"{make.__name__} n={n}{where}: the last Receiver was closed, yet send succeeded"
        except mpsc.SendError:
            pass
        tx.close()
    else:
        tx.close()  # the last Sender
        try:
            while True:
                rx.recv_timeout(0.2)
        except mpsc.RecvError:
            pass
        except mpsc.Timeout:
            problem = (
                f"{make.__name__} n={n}{where}: the last Sender was closed, yet recv waits (no RecvError)"
            )
        rx.close()
    return fired, problem


class Boom(Exception):
    pass


def real_signals(seconds: float) -> str:
    """How often it happens with a real signal: a SIGALRM handler raising every 100 us in a
    try_recv polling loop; count the calls that leave the endpoint busy (white-box: Endpoint.busy
    must be 0 once no call is in progress), then show the consequence once."""
    armed = [False]
    booms = [0]

    def handler(*_: object) -> None:
        if armed[0]:
            armed[0] = False
            booms[0] += 1
            raise Boom()

    old = signal.signal(signal.SIGALRM, handler)
    signal.setitimer(signal.ITIMER_REAL, 0.0001, 0.0001)
    tx, rx = mpp.sync_channel(2)
    stuck = calls = 0
    t0 = time.monotonic()
    try:
        while time.monotonic() - t0 < seconds:
            try:
                armed[0] = True
                rx.try_recv()
            except mpsc.Empty:
                armed[0] = False
            except Boom:
                pass
            armed[0] = False
            calls += 1
            if rx._ep.busy and not stuck:
                stuck = calls
                break
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
    if not stuck:
        tx.close()
        rx.close()
        return ""
    rx.close()
    try:
        tx.send("x")
        after = "then rx.close() (the last Receiver) and tx.send() succeeded: no SendError, ever"
    except mpsc.SendError:
        after = "then rx.close() and tx.send() raised SendError"
    tx.close()
    return (
        f"real SIGALRM every 100 us in a try_recv loop: call #{stuck} ({booms[0]} interrupts so far, "
        f"{time.monotonic() - t0:.2f} s) left the Receiver's endpoint busy for ever; {after}"
    )


def main() -> int:
    signal.alarm(55)
    problems = []
    found = real_signals(10.0)
    if found:
        problems.append(found)
    for make in (try_recv_empty, recv_timeout_empty, try_send_full, len_of_bounded, is_disconnected):
        n = 0
        while True:
            n += 1
            fired, problem = run(make, n)
            if problem:
                problems.append(problem)
            if not fired or n > 500:
                break
        print(f"{make.__name__}: {n - 1} check points tried")
    for p in problems:
        print("PROBLEM:", p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
