"""Finding 09: `next(rx)` (the builtin) loses the value whenever an interrupt (a signal handler's
exception, Ctrl-C) lands in the receive after the message was taken: about half of all
interrupts cost a message here (process channels; thread channels do the same).

mpsc delivers an exception that lands after a receive took its value "right after the return"
(`_interrupts.finish`/`DEFER`: an asynchronous exception raised at the caller's next check
point). For `rx.recv()` and `for v in rx` that point comes after the caller stored the value.
For `next(rx)` the caller of `Receiver.__next__` is the C builtin `next`, and the check point
after a call into C returns comes *before* the user's frame stores the result: the deferred
exception is raised there and the value, already consumed from the channel, is dropped. (The
same holds for any C caller that returns one value: `next(iter(rx))`, `next(islice(rx, 1))`,
`functools.reduce`, ...)

Promise broken: DESIGN §4.7 "an interrupt never costs a message: whatever exception arrives
..., either the call did not happen or its result reaches the caller"; module doc
"Interrupts: ... or happened and returns its result, the exception raised right after";
`iter(rx)` is part of the documented API. If it cannot be fixed, the docs should say that
only `recv*()` and `for` loops keep the promise.

Method: a child process sends 0..N-1; the parent receives with `next(it)` while a SIGALRM
handler raises every 200 us (only while armed, i.e. inside the call), then checks that every
value arrived. For comparison the same with `rx.recv()`.
Exit status 1 when the problem shows.
"""

from __future__ import annotations

import multiprocessing
import signal
import sys
from typing import Any

import mpsc
import mpsc.process as mpp

CTX = multiprocessing.get_context("forkserver")
N = 20000


class Boom(Exception):
    pass


def produce(tx: Any, n: int) -> None:
    signal.alarm(60)
    with tx:
        for i in range(n):
            tx.send_timeout(i, 30)


def point() -> None:
    """A check point: where an exception deferred past a call's return lands at the latest."""


def run(op: str) -> tuple[int, int, int]:
    tx, rx = mpp.sync_channel(4)
    p = CTX.Process(target=produce, args=(tx, N))
    p.start()
    tx.close()
    armed = [False]
    booms = [0]

    def handler(*_: object) -> None:
        if armed[0]:
            armed[0] = False
            booms[0] += 1
            raise Boom()

    old = signal.signal(signal.SIGALRM, handler)
    signal.setitimer(signal.ITIMER_REAL, 0.0002, 0.0002)
    got: dict[int, Any] = {}
    k = 0
    it = iter(rx)
    try:
        while True:
            try:
                armed[0] = True
                r = next(it) if op == "next" else rx.recv()
                armed[0] = False
                got[k] = r  # (a store: no check point before the value is kept)
                k += 1
                point()
            except Boom:
                continue
            except (StopIteration, mpsc.RecvError):
                armed[0] = False
                break
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
    p.join(20)
    rx.close()
    return k, booms[0], N - len(set(got.values()))


def main() -> int:
    signal.alarm(55)
    k, booms, missing = run("next")
    k2, booms2, missing2 = run("recv")
    print(f"next(it):  received {k}/{N}, {booms} interrupts, {missing} values lost")
    print(f"rx.recv(): received {k2}/{N}, {booms2} interrupts, {missing2} values lost")
    if missing:
        print(f"PROBLEM: next(rx) lost {missing} values to {booms} interrupts")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
