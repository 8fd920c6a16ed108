"""Free-threaded build: ``try_recv`` on a handle that no other thread uses says ``Empty`` while
values wait in the channel, when it meets the lease thread's give-back. Commit 2218f7d meant
to end this ("a try_recv reads the owner under [the guard], and so never sees a give-back
unmarked"); it still happens.

Promise (``Receiver.try_recv``): "Empty: No message is there now (or another thread or task
is receiving through this handle right now, or the server did not answer within GRACE)" and
(``_enter``) "while the lease thread gives back this handle's entries, ``once`` waits for it up
to GRACE". Here one thread owns the handle, the server answers at once, and values are there.

What happens: ``_enter(once=True)`` reads ``_owner`` unguarded (None: the lease thread has not
started), the lease thread then takes the lock (and marks ``_GIVING`` under the guard),
``lock.acquire(False)`` fails, and by the time ``_enter`` reads the owner under the guard the
lease thread has released it (a short give-back: its quick paths under the lock, or the
try_recv thread preempted for a moment): owner None, not ``_GIVING``, so ``once`` returns
False and ``try_recv`` raises ``EmptyAt(b'$')`` although nothing receives and the lock is free.
Reading the owner under the guard does not help: a failed non-blocking acquire followed by a
later read cannot tell "a give-back ran meanwhile" from "another receive holds it".

How often: on 3.13t (``.venv-freethreaded``), about once per 2000-3000 rounds (one per 30-40 s
of one loop on a loaded 2-core machine; with four loops the script found it after 50 s and
after 10 s in two runs); on 3.11 not seen in 2900 rounds (one loop) nor 17467 (four, 60 s). Four threads, each with a
channel and handle of its own, run the loop; the script stops at the first one (bounded at
150 s) and exits 1.
"""

import os
import random
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _srv import server  # noqa: E402

import mpsc  # noqa: E402
import mpsc.redis  # noqa: E402

srv = server()
DURATION = float(sys.argv[1] if len(sys.argv) > 1 else 150)
end = time.monotonic() + DURATION
found: list[str] = []
totals = [0, 0, 0]  # rounds, sent, received distinct


def worker(k: int) -> None:
    """Its own channel and handle: nobody else receives through ``rx``."""
    tx, rx = mpsc.redis.unbounded(srv.url, name=f"t{k}")
    sent = recvd = rounds = 0
    seen: set[int] = set()
    while time.monotonic() < end and not found:
        rounds += 1
        for _ in range(12):
            tx.send(sent)
            sent += 1
        for _ in range(random.randint(2, 6)):  # quick receives: the handle buffers entries
            seen.add(rx.recv_timeout(2))
            recvd += 1
        time.sleep(random.uniform(0.008, 0.012))  # about IDLE: meet the lease thread's give-back
        while recvd < sent:
            try:
                v = rx.try_recv()
            except mpsc.Empty as e:
                found.append(f"try_recv raised Empty (marks {getattr(e, 'marks', None)}) with "
                             f"{sent - recvd} values in channel t{k}, no other receive on its handle")
                break
            seen.add(v)
            recvd += 1
        while recvd < sent:
            seen.add(rx.recv_timeout(2))
            recvd += 1
    totals[0] += rounds
    totals[1] += sent
    totals[2] += len(seen)
    tx.close()
    rx.close()


threads = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
for t in threads:
    t.start()
for t in threads:
    t.join()
print(f"{sys.version.split()[0]}: {totals[0]} rounds, sent {totals[1]}, received {totals[2]} distinct")
if found:
    print("DEFECT:", found[0])
    sys.exit(1)
print("ok")
