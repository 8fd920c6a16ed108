"""Finding 07: a bounded channel's room, left by a receive in another process, appears only when
that process's lease thread gets the GIL: a worker that receives a job and starts a long C call
that holds the GIL (``sum(range(n))``, ``sorted`` of a big list, a C extension) keeps every
sender blocked on the full channel for the whole call. Before f27eb07 the receive acknowledged
before returning, so the room appeared at once.

Promise (mpsc.redis docstring, "Exactly once"): "On a bounded channel the acknowledgement (and
so the room) follows the return: carried by the receiver's next fetch, else sent by its lease
thread ``ACK_DELAY`` (2 ms) later"; ``_leases.ACK_DELAY``: "the room it leaves appears within
this delay and a round trip"; "A sender blocked on a full channel waits on ``BLPOP`` ... (so it
wakes as room appears)". The known limit ("a call that holds the GIL for a whole lease ...
keeps the lease thread from renewing") names lease expiry, not this: here a 0.8 s call delays
every sender by 0.8 s, with no lease in danger.

What happens: bounded(1), full; the child process receives once and then either sleeps 1 s
(control: the parent's blocked ``send`` returns ~3 ms after the child's receive returned) or
runs ``sum(range(N))`` sized to ~0.8 s (the parent's ``send`` returns only when that call
ends: ~800 ms). Deterministic (3 trials each).

Exits 1 while the defect shows.
"""

import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _srv import server

import mpsc.redis

CHILD = r"""
import sys, time, mpsc.redis
url, name, work = sys.argv[1], sys.argv[2], sys.argv[3]
tx, rx = mpsc.redis.bounded(url, 1, name=name)
tx.close()
t0 = time.perf_counter(); sum(range(10**7)); per = (time.perf_counter() - t0) / 10**7
n = int(0.8 / per)
for line in sys.stdin:
    v = rx.recv()
    print(time.monotonic(), flush=True)
    if work == "gil":
        sum(range(n))  # one C call holding the GIL ~0.8 s
    else:
        time.sleep(1.0)
rx.close()
"""

srv = server(persist=False)
result = {}
for work in ("sleep", "gil"):
    name = f"jobs-{work}"
    tx, rx0 = mpsc.redis.bounded(srv.url, 1, name=name)
    p = subprocess.Popen(
        [sys.executable, "-c", CHILD, srv.url, name, work],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    time.sleep(1.5)
    rx0.close()
    tx.send("job 0")
    lat = []
    for k in range(3):
        p.stdin.write("go\n")
        p.stdin.flush()
        tx.send(f"job {k + 1}")  # blocks: full until the child's receive makes room
        t_send = time.monotonic()
        t_recv = float(p.stdout.readline())
        lat.append(t_send - t_recv)
        time.sleep(1.2)
    p.stdin.close()
    tx.close()
    p.wait(20)
    result[work] = lat
    print(
        f"child {'sleeps' if work == 'sleep' else 'runs a 0.8 s GIL-holding call'} after its receive: "
        f"the blocked send returned {', '.join(f'{x * 1000:.0f}' for x in lat)} ms after the receive returned"
    )
sys.exit(1 if max(result["gil"]) > 0.1 else 0)
