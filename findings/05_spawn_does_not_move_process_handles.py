"""Finding 05: mpsc.spawn does not move mpsc.process handles into the thread: the seed program of
DESIGN §1, written with mpsc.process.channel(), never ends its `for` loop.

`mpsc.spawn` moves (and closes when fn returns) only thread-channel handles
(`isinstance(arg, mpsc._handles._Handle)` in src/mpsc/_spawn.py); an `mpsc.process.Sender`
passed to it is neither moved nor closed, so the caller's handle stays open and `for msg in rx`
waits for ever after the worker is done (here bounded by recv_timeout).

Promise broken: DESIGN §2 "spawn(fn, *args, **kwargs): runs fn in a new thread; every
Sender/Receiver among the arguments is moved in (closed when fn returns or raises)"; README
"mpsc.process.channel() ... give the same Sender/Receiver methods, errors and ownership rules";
DESIGN §1 (the seed) `mpsc.spawn(worker, tx)  # handles passed to spawn are moved into the
thread`. Either spawn should move process handles too, or refuse them with a clear error.
Exit status 1 when the problem shows.
"""

from __future__ import annotations

import signal
import sys
from typing import Any

import mpsc
import mpsc.process as mpp


def worker(tx: Any) -> None:
    tx.send("hi")  # no `with`: spawn closes the handles it moved when fn returns (DESIGN §2)


def main() -> int:
    signal.alarm(20)
    tx, rx = mpp.channel()
    mpsc.spawn(worker, tx).join(5)
    got = []
    problem = ""
    try:
        while True:
            got.append(rx.recv_timeout(2.0))  # the seed's `for received in rx`, bounded
    except mpsc.RecvError:
        pass
    except mpsc.Timeout:
        problem = (
            f"after the spawned worker returned, rx still waits (got {got}); the caller's handle "
            f"was not moved: {tx!r}"
        )
    # and the caller's handle must be unusable after the move (as for thread handles)
    ttx, trx = mpsc.channel()
    mpsc.spawn(lambda t: None, ttx).join(5)
    try:
        ttx.send(1)
        thread_moved = False
    except mpsc.ClosedHandleError:
        thread_moved = True
    tx2, rx2 = mpp.channel()
    mpsc.spawn(lambda t: None, tx2).join(5)
    try:
        tx2.send(1)
        process_moved = False
    except mpsc.ClosedHandleError:
        process_moved = True
    if thread_moved and not process_moved:
        problem += (
            "; a thread Sender is unusable in the caller after spawn (moved), an mpsc.process "
            "Sender is not (still open, and never closed by the thread)"
        )
    for h in (tx, rx, ttx, trx, tx2, rx2):
        h.close()
    if problem:
        print("PROBLEM:", problem)
        return 1
    print("ok: the loop ended")
    return 0


if __name__ == "__main__":
    sys.exit(main())
