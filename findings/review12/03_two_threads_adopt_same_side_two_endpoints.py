"""Two threads receiving, at the same time, messages that carry handles of the same side of the
same channel (one this process does not hold yet) make two Endpoints of that side in this
process: ``_travel._from_message`` asks ``joining`` (none yet) and then makes and registers a
new Endpoint, with nothing keeping a second thread from doing the same in between; the second
``joined`` replaces the first in ``_joined``. Pre-existing (the old ``adopt`` had the same
check-then-make), still there after 71149bf; on the free-threaded build (pure code) as on the
GIL build (with a short switch interval).

Promise: _travel module doc: "Clones within one process share one endpoint: a handle arriving in
a process that already holds the same side of the same channel joins that endpoint, and the fds
it brought are closed." (the mpsc.process doc: "``_endpoint`` (one process's fds of one side,
shared by clones)").

What happens: 300 rounds of two threads each receiving a message carrying a Sender of a fresh
bounded(2) channel whose Sender this process closed: in some rounds the two received Senders
are on two Endpoints (each with its own socket, credit pipe ends, ledger fd and ledger row).
Exit 1 if that happens in any round. (Nothing is lost: both Senders work, the carried channel
disconnects once both are closed, fds come back.)
"""

import gc
import os
import sys
import threading

import mpsc
import mpsc.process as mpp
from mpsc.process import _implementation

if hasattr(sys, "setswitchinterval"):
    sys.setswitchinterval(1e-6)
gil = getattr(sys, "_is_gil_enabled", lambda: True)()
print("implementation:", _implementation.in_use(), "| GIL:", gil)
ROUNDS = 300
split = 0
for _ in range(ROUNDS):
    otx, orx = mpp.sync_channel(2)
    pairs = [mpp.channel() for _ in range(2)]
    for tx, _rx in pairs:
        tx.send(("h", otx))
    otx.close()
    got = [None, None]
    barrier = threading.Barrier(2)

    def run(j):
        barrier.wait()
        got[j] = pairs[j][1].recv_timeout(5)[1]

    threads = [threading.Thread(target=run, args=(j,)) for j in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    if got[0]._ep is not got[1]._ep:
        split += 1
    for h in got:
        h.close()
    del got
    gc.collect()
    try:
        orx.recv_timeout(2)
    except mpsc.RecvError:
        pass
    for tx, rx in pairs:
        tx.close()
        rx.close()
    orx.close()
print(f"rounds: {ROUNDS} | rounds whose two received clones are on two endpoints: {split}")
sys.exit(1 if split else 0)
