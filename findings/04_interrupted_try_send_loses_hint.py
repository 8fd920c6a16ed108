"""Finding 04: an interrupt landing in a rendezvous try_send loses the waiting receiver's hint:
afterwards every try_send says Full although that receiver is still blocked in recv.

Rendezvous try_send reads one "a receiver is waiting" hint from the hint pipe, makes a HINTED
offer, and gives the hint back (`_rendezvous.hint`) when it ends with Full. When an exception
(Ctrl-C, a signal handler's) lands after the hint was read and before the offer was claimed,
`Sender._send`'s except-path withdraws the offer and re-raises, but never writes the hint back.
The receiver still waits with `hinted=True`, the pipe is empty, so every later try_send raises
Full at once - for as long as that receiver waits (it would take a message from someone else to
end its wait). A producer that only uses try_send never reaches it again.

Promise broken (Sender.try_send): "Raises Full ... on a rendezvous channel, no receiver is blocked
in a receive (if one is, it waits for that receiver to claim the value ...)"; module doc:
"Interrupts: whatever exception lands in a call ..., the call either did not happen (it
propagates, the channel is as it was) ...".

Method: the project's own tests/checkpoints.py SignalInjector raises KeyboardInterrupt at the n-th
real check point of one try_send (n = 1, 2, ...), with a receiver thread blocked in recv_timeout;
then try_send("second") is retried for 0.3 s. Exit status 1 when the problem shows.
"""

from __future__ import annotations

import fcntl
import os
import signal
import sys
import termios
import threading
import time
from typing import Any

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))
from checkpoints import NOT_RETURNED, SignalInjector

import mpsc
import mpsc.process as mpp


def hints(rx: Any) -> int:
    buf = bytearray(4)
    fcntl.ioctl(rx._ep.credit_r, termios.FIONREAD, buf)  # white-box: the hint pipe
    return int.from_bytes(buf, sys.byteorder)


def one(n: int) -> tuple[bool, str]:
    tx, rx = mpp.sync_channel(0)
    got: list[Any] = []

    def receiver() -> None:
        try:
            while True:
                got.append(rx.recv_timeout(10))
        except mpsc.RecvError:
            pass

    t = threading.Thread(target=receiver, daemon=True)
    t.start()
    deadline = time.monotonic() + 5
    while hints(rx) == 0 and time.monotonic() < deadline:
        time.sleep(0.0005)
    inj = SignalInjector(n, 10**9)
    result, exc = inj.call(lambda: tx.try_send("first"))
    outcome = "returned" if result is not NOT_RETURNED else f"raised {type(exc).__name__}"
    second = False
    t0 = time.monotonic()
    while time.monotonic() - t0 < 0.3:
        try:
            tx.try_send("second")
            second = True
            break
        except mpsc.Full:
            time.sleep(0.005)
    left = hints(rx)
    tx.close()
    t.join(15)
    rx.close()
    detail = (
        f"n={n}{inj.where}: try_send {outcome}; then try_send('second') "
        f"{'succeeded' if second else 'said Full for 0.3 s'} (hints in pipe: {left}, receiver thread "
        f"{'still blocked' if not second else 'served'}); receiver got {got}"
    )
    return inj.fired, ("" if second else detail)


def main() -> int:
    signal.alarm(55)
    problems = []
    n = 0
    while True:
        n += 1
        fired, problem = one(n)
        if problem:
            problems.append(problem)
        if not fired or n > 400 or len(problems) >= 60:
            break
    print(f"{n - 1} check points of a rendezvous try_send tried")
    for p in problems:
        print("PROBLEM:", p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
