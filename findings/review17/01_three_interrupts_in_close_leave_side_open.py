"""(Outside commit 5870863's diff, met while attacking its ``Adoption.replaced``: the close that
``register`` runs on the replaced handle is this close.) Three interrupts at consecutive check
points of ``Sender.close`` on a sync_channel leave the side open for good: the handle is
deleted, the exception freed, a collection run, and the receiver never sees the end of stream.

Promise: /work/shared/DESIGN.md §4.7 ("an interrupt never costs a message ... no waiter is left
that nobody wakes"); DESIGN §5 (an interrupted call either happens or not, and leaves nothing
half-done); ``_interrupts.complete``: "Run ``step(arg)`` to completion although ``exc`` landed".

What happens: the first interrupt lands in ``Endpoint._settle_locked`` (or ``socket.close``),
the next two each as a ``complete()`` call starts (``complete:145``): callers catch one landing
"as complete() started" and call it once more, and ``complete`` retries only three times in
itself; the third escapes with the endpoint's close unfinished, and nothing finishes it later
(the handle is already dropped). Review 13/02 covered pairs; triples were not tried.
Exit 1 if any first point leaves the channel connected after everything is freed.
"""

import gc
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../review13"))
from _pairs import disconnected, run  # noqa: E402

import mpsc.process as mpp  # noqa: E402

import faulthandler  # noqa: E402

faulthandler.dump_traceback_later(100, exit=True)
M, K = 3, 1
bad = 0
for n in range(1, 200):
    tx, rx = mpp.sync_channel(2)
    hits, where, exc = run(tx.close, [n + i * K for i in range(M)])
    del exc
    del tx
    gc.collect()
    time.sleep(0.02)
    d = disconnected(rx, "tx", 0.5)
    rx.close()
    if not d:
        bad += 1
        print(n, where, "-> the Sender side is still open (no end of stream)", flush=True)
    if hits == 0:
        print("points:", n - 1)
        break
print("bad", bad)
sys.exit(1 if bad else 0)
