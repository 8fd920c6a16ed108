"""Finding 02: ``clone()`` (and pickling a handle) racing ``close()`` of the same handle in
another thread raises ``LeaseExpiredError``, not ``ClosedHandleError``.

Promise: ``clone()``: "Raises: ClosedHandleError: This handle was closed ...;
mpsc.redis.LeaseExpiredError: This handle's lease expired (its process was paused or cut off
from the server for a whole lease)". Review 2's finding 02 was the same race for ``send``
(fixed there with ``self._open()`` before treating 'lost' as an expiry); ``clone()`` and
``__reduce__`` still take the script's 'lost' for an expired lease (and mark the lease lost).

What happens: thread A loops ``h.clone()`` (or ``pickle.dumps(h)``), thread B closes ``h``
after a random short delay; the process is healthy and the server answers at once. In a share
of the trials (typically 10-40 %, every run) A's call raises LeaseExpiredError — a program
that treats LeaseExpiredError as "this process was cut off, restart the worker" misreads an
ordinary shutdown race. Bounded: 200 trials, a few seconds.

Exits 1 while the defect shows.
"""

import os
import pickle
import random
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _srv import server

import mpsc
import mpsc.redis

srv = server(persist=False)
tx0, rx0 = mpsc.redis.channel(srv.url)  # keeps both sides alive
counts = {"LeaseExpiredError": 0, "ClosedHandleError": 0, "other": 0}
by_op: dict[str, int] = {}
for trial in range(200):
    base = tx0 if trial % 2 else rx0
    op = "clone" if trial % 4 < 2 else "pickle"
    h = base.clone()
    seen: list[BaseException] = []

    def loop(h=h, op=op, seen=seen) -> None:
        for _ in range(10_000):
            try:
                made = h.clone() if op == "clone" else pickle.dumps(h)
            except BaseException as exc:
                seen.append(exc)
                return
            if op == "clone":
                made.close()

    t = threading.Thread(target=loop)
    t.start()
    time.sleep(random.uniform(0.0, 0.003))
    h.close()
    t.join(30)
    assert not t.is_alive()
    exc = seen[0] if seen else None
    if isinstance(exc, mpsc.redis.LeaseExpiredError):
        counts["LeaseExpiredError"] += 1
        by_op[op] = by_op.get(op, 0) + 1
    elif isinstance(exc, mpsc.ClosedHandleError):
        counts["ClosedHandleError"] += 1
    else:
        counts["other"] += 1
        print("other outcome:", repr(exc))
print(counts, "LeaseExpiredError by operation:", by_op)
sys.exit(1 if counts["LeaseExpiredError"] or counts["other"] else 0)
