"""Unbounded channel, two Receiver clones (a work queue): the first recv() of one receiver
fetches up to BATCH (100) entries into its process; while it does not call recv again (busy
with the first job, or just idle) the other receivers see *nothing*: try_recv() -> Empty and
recv_timeout() -> Timeout although len() says the messages are in the channel, and after the
last Sender closes they get no RecvError either. The thread channels' clones share one queue.

Promises: "Receivers share the messages (MPMC: each message goes to one receiver, on any
machine)"; try_recv: "Receive a message that is there now" / Empty: "No message is there now";
recv_timeout's Timeout: "Nothing came in time"; close(): "Releasing the last Sender lets
receivers drain and then see RecvError". The docstring mentions the prefetch only as the
cause of duplicates after a SIGKILL, not that a live idle receiver withholds the batch for as
long as it stays idle (the lease thread renews its lease for ever).

Cause: ``Receiver._recv_steps`` (RECV with count = BATCH on unbounded channels; the batch is
pending under this consumer until handed out; nothing gives back what an idle handle buffered).
Suggested fix: fetch one entry per receive unless the caller asked for throughput (an option),
or give back (XCLAIM to nobody / re-add) what is still buffered after a short idle time (the
lease thread could do it), or count a receiver's unbuffered entries as claimable once it has not
received for some time.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _srv import server  # noqa: E402

import mpsc  # noqa: E402
import mpsc.redis  # noqa: E402

srv = server()
tx, worker1 = mpsc.redis.channel(srv.url)
worker2 = worker1.clone()
for job in range(50):
    tx.send(job)
first = worker1.recv()  # worker 1 takes one job and works on it (does not receive again for now)
problems = []
print(f"worker1 got job {first}; len() says {len(worker2)} in the channel")
try:
    print("worker2.try_recv() ->", worker2.try_recv())
except mpsc.Empty:
    problems.append(f"worker2.try_recv() raised Empty with len() = {len(worker2)}")
t0 = time.monotonic()
try:
    print("worker2.recv_timeout(3) ->", worker2.recv_timeout(3.0))
except mpsc.Timeout:
    problems.append(f"worker2.recv_timeout(3) raised Timeout after {time.monotonic() - t0:.1f} s with len() = {len(worker2)}")
tx.close()
try:
    worker2.recv_timeout(3.0)
except mpsc.Timeout:
    problems.append("after the last Sender closed, worker2 gets neither the 49 jobs nor RecvError")
except mpsc.RecvError:
    pass
# Worker 1 comes back: all 49 are still with it (nothing lost; only withheld).
rest = []
while True:
    try:
        rest.append(worker1.recv_timeout(3.0))
    except (mpsc.RecvError, mpsc.Timeout):
        break
print(f"worker1 afterwards received {len(rest)} more")
worker1.close()
worker2.close()
if problems:
    print("FAIL:", "; ".join(problems))
    sys.exit(1)
print("OK")
