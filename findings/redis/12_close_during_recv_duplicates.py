"""Finding 12: `close()` of a Receiver while another thread is inside `recv()` on it delivers
values twice (the closed handle returns them, and a clone gets them again) - nobody died.

Promises: mpsc.redis: "*Exactly once while nobody dies*"; `close()`: "Release this handle ...
Idempotent; other clones stay open"; DESIGN §4.1 "every value whose send returned normally is
received exactly once". Closing a handle from another thread is how a consumer thread is
stopped (and `bridge` closes its handle while its thread may be receiving).

What happens: `close()` does not take the Receiver's lock. It clears the buffer and runs the
CLOSE script with the acknowledgements taken so far; the CLOSE script marks the entries still
pending under this consumer for the other receivers to claim. Meanwhile the receiving thread
(a) has popped an entry and marks it handed after the acknowledgements were taken (the ack is
never sent), or (b) gets the reply of a RECV that ran just before the CLOSE and returns its
first entry. Either way the value is returned by the closed handle and claimed by a clone.
The receiving thread also sometimes gets LeaseExpiredError instead of ClosedHandleError.

The script: trials of a producer sending 0..299, receivers A and B (a clone) receiving in
threads, and A closed by the main thread after a random 5-50 ms. Runs 20 s; counts values
received twice. Exit 1 when any is. (~30 duplicates per 100 trials here.)
"""

from __future__ import annotations

import collections
import random
import sys
import threading
import time

from _srv import server

import mpsc
import mpsc.redis as mr

N = 300


def trial(url: str, cap: int | None, errors: collections.Counter[str]) -> int:
    tx, a = mr.channel(url) if cap is None else mr.bounded(url, cap)
    b = a.clone()
    got: list[int] = []

    def consume(r: mr.Receiver[int]) -> None:
        while True:
            try:
                got.append(r.recv())
            except mpsc.RecvError:
                return
            except Exception as exc:  # ClosedHandleError expected for A
                errors[type(exc).__name__] += 1
                return

    def produce() -> None:
        with tx:
            for i in range(N):
                tx.send(i)

    threads = [threading.Thread(target=consume, args=(r,)) for r in (a, b)] + [threading.Thread(target=produce)]
    for t in threads:
        t.start()
    time.sleep(random.uniform(0.005, 0.05))
    a.close()
    for t in threads:
        t.join(15)
    b.close()
    return sum(n - 1 for n in collections.Counter(got).values() if n > 1)


def main() -> int:
    srv = server()
    dups: collections.Counter[str] = collections.Counter()
    trials: collections.Counter[str] = collections.Counter()
    errors: collections.Counter[str] = collections.Counter()
    end = time.monotonic() + 20
    while time.monotonic() < end:
        cap = random.choice([None, 2])
        kind = "unbounded" if cap is None else "bounded(2)"
        trials[kind] += 1
        dups[kind] += trial(srv.url, cap, errors)
    for kind in trials:
        print(f"{kind}: {trials[kind]} trials, {dups[kind]} values received twice")
    print("errors seen by the closed receiver's thread:", dict(errors))
    if sum(dups.values()):
        print("FAIL: closing a receiver while it receives duplicates values")
        return 1
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
