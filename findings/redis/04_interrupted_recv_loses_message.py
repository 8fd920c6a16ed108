"""Finding 04: a KeyboardInterrupt (Ctrl-C, a signal handler's exception) during `recv()` destroys
the message the receive had taken; on an unbounded channel it can also hide the whole batch
(the last receiver then never gets RecvError).

Promise: DESIGN §4.7 (every flavour): "an interrupt never costs a message: whatever exception
arrives (KeyboardInterrupt, one raised by a signal handler, a cancellation), either the call did
not happen or its result reaches the caller". The mpsc.redis docstring exempts only sends ("An
interrupt (Ctrl-C) during a send's call also leaves its outcome unknown"), not receives.

What happens (Receiver._recv_steps):
* bounded: the entry is popped from the buffer, marked handed (to be acknowledged = deleted),
  unpickled, then a whole ACK round trip runs *before* the value is returned. An interrupt
  anywhere from the pop to the return - the ACK's network round trip included - loses the value:
  it is acknowledged with the next call. With the project's own SignalInjector
  (tests/checkpoints.py) on `rx.recv()` of bounded(4) holding two messages: 271 of ~590 check
  points lose a message.
* unbounded: an interrupt between `self._orphans = False` and `self._buf.extend(...)` (reply
  processing) leaves the fetched batch pending under this live consumer, never re-read: the
  caller never gets them, and after the last Sender goes, `recv()` never raises RecvError (it
  waits for entries pending under itself). An interrupt after `popleft()` loses that value.
  (10 of 345 check points.)

The script: real SIGALRM every 300-700 µs whose handler raises KeyboardInterrupt; the main
thread receives with `recv()` (retrying on KeyboardInterrupt) while a thread sends 0..N-1 and
closes. Every value must arrive, then RecvError. Exit 1 when values are missing.
"""

from __future__ import annotations

import random
import signal
import sys
import threading
import time

from _srv import server

import mpsc
import mpsc.redis as mr

N = 400


def run(url: str, cap: int | None) -> str | None:
    tx, rx = mr.channel(url) if cap is None else mr.bounded(url, cap)

    def produce() -> None:
        with tx:
            for i in range(N):
                tx.send(i)

    got: list[int] = []
    interrupts = 0
    stop_at = time.monotonic() + 20

    armed = [False]  # raise only while a receive runs (not in this loop's own code)

    def handler(signum: int, frame: object) -> None:
        signal.setitimer(signal.ITIMER_REAL, random.uniform(0.0003, 0.0007))
        if armed[0]:
            armed[0] = False
            raise KeyboardInterrupt

    producer = threading.Thread(target=produce, daemon=True)
    producer.start()
    previous = signal.signal(signal.SIGALRM, handler)
    signal.setitimer(signal.ITIMER_REAL, 0.0005)
    ended = False
    done = False
    try:
        # A receive that took its value returns it and raises the interrupt right after, at the
        # caller's next check point (DESIGN §4.7): here the loop's back edge, so the whole loop
        # sits inside the try (list.append is no check point on 3.11).
        while not done:
            try:
                while True:
                    if time.monotonic() > stop_at:
                        done = True
                        break
                    armed[0] = True
                    value = rx.recv_timeout(2.0)
                    armed[0] = False  # (no check point between the return and here)
                    got.append(value)
            except KeyboardInterrupt:
                interrupts += 1
            except mpsc.RecvError:
                armed[0] = False
                ended = True
                done = True
            except mpsc.Timeout:
                armed[0] = False
                done = True
    finally:
        signal.signal(signal.SIGALRM, signal.SIG_IGN)
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    producer.join(5)
    rx.close()
    missing = sorted(set(range(N)) - set(got))
    kind = "unbounded" if cap is None else f"bounded({cap})"
    print(
        f"{kind}: {interrupts} interrupts in recv; received {len(got)} of {N}, missing {len(missing)} "
        f"{missing[:10]}; {'RecvError' if ended else 'NO RecvError (a recv_timeout(2) timed out)'}"
    )
    if missing or not ended:
        return kind
    return None


def main() -> int:
    srv = server()
    bad = [k for k in (run(srv.url, 4), run(srv.url, None)) if k]
    if bad:
        print("FAIL: interrupted receives cost messages on", ", ".join(bad))
        return 1
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
