"""Finding 06: an exception landing in a send at some check points leaks the file descriptors the
send made: a large value's memfd (memory the size of the value, for the process's lifetime), or
the dup'ed fds of a handle inside the value - and a leaked dup of a Sender keeps that channel
connected for ever, so its receivers never get RecvError (a consumer looping until
disconnection hangs).

Promise broken: module doc "Interrupts: whatever exception lands in a call (Ctrl-C, a signal
handler's), the call either did not happen (it propagates, the channel is as it was) or happened
and returns its result"; DESIGN §4.7 "an interrupt never costs a message ... no permit that
nobody returns"; README "when every Sender is gone ... receivers ... get RecvError".

Method: the project's own tests/checkpoints.py SignalInjector raises KeyboardInterrupt at the
n-th real check point of one send (n = 1, 2, ...). After each run:
 A. `tx.send(<70 kB bytes>)`: memfds still open in this process (there must be none);
 B. `tx.send(("h", other_tx))`: drain rx (closing any handle received), close other_tx: the
    other channel's receiver must now see RecvError (every Sender is closed);
 C. a rendezvous `tx.send_timeout(v, 0)` with nobody receiving: pipes left open afterwards (each
    offer makes two pipes; `_rendezvous.Offer.__init__` loses both ends of one if an exception
    lands as `os.pipe2` returns, and `Sender._offer`'s `offer = call.offer = Offer()` loses the
    whole Offer - three fds, it has no finalizer - if one lands as the constructor returns).
Exit status 1 when the problem shows.
"""

from __future__ import annotations

import gc
import os
import signal
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))
from checkpoints import SignalInjector

import mpsc
import mpsc.process as mpp

BIG = b"x" * 70_000


def memfds() -> int:
    n = 0
    for name in os.listdir("/proc/self/fd"):
        try:
            n += os.readlink(f"/proc/self/fd/{name}").startswith("/memfd:mpsc-message")
        except OSError:
            pass
    return n


def large(n: int) -> tuple[bool, str]:
    before = memfds()
    tx, rx = mpp.channel()
    inj = SignalInjector(n, 10**9)
    inj.call(lambda: tx.send(BIG))
    while True:
        try:
            rx.try_recv()
        except mpsc.Empty:
            break
    tx.close()
    rx.close()
    fired, where = inj.fired, inj.where
    del inj
    gc.collect()
    left = memfds() - before
    return fired, (f"A n={n}{where}: {left} memfd(s) of {len(BIG)} bytes left open" if left else "")


def handle(n: int) -> tuple[bool, str]:
    tx, rx = mpp.channel()
    other_tx, other_rx = mpp.channel()
    inj = SignalInjector(n, 10**9)
    inj.call(lambda: tx.send(("h", other_tx)))
    while True:
        try:
            _, h = rx.try_recv()
            h.close()
        except mpsc.Empty:
            break
    other_tx.close()
    tx.close()
    rx.close()
    fired, where = inj.fired, inj.where
    del inj  # (its exceptions' tracebacks must not keep anything alive)
    gc.collect()
    problem = ""
    try:
        other_rx.recv_timeout(0.3)
        problem = f"B n={n}{where}: got a value?"
    except mpsc.RecvError:
        pass
    except mpsc.Timeout:
        problem = (
            f"B n={n}{where}: every Sender of the carried channel is closed, but its receiver "
            "is still connected (a dup of the Sender's fd leaked)"
        )
    other_rx.close()
    return fired, problem


def pipes() -> int:
    n = 0
    for name in os.listdir("/proc/self/fd"):
        try:
            n += os.readlink(f"/proc/self/fd/{name}").startswith("pipe:")
        except OSError:
            pass
    return n


def offer(n: int) -> tuple[bool, str]:
    before = pipes()
    tx, rx = mpp.sync_channel(0)
    inj = SignalInjector(n, 10**9)
    inj.call(lambda: tx.send_timeout("v", 0))
    tx.close()
    rx.close()
    fired, where = inj.fired, inj.where
    del inj
    gc.collect()
    left = pipes() - before
    return fired, (f"C n={n}{where}: {left} pipe fd(s) left open" if left else "")


def main() -> int:
    signal.alarm(55)
    problems = []
    for scene in (large, handle, offer):
        n = 0
        while True:
            n += 1
            fired, problem = scene(n)
            if problem:
                problems.append(problem)
            if not fired or n > 500:
                break
        print(f"{scene.__name__}: {n - 1} check points tried")
    for p in problems:
        print("PROBLEM:", p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
