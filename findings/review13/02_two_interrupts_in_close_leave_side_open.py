"""Two interrupts in ``close()`` of a side's last handle leave that side open for good.

Promise: DESIGN.md §5 "two interrupts close together (Ctrl-C twice, an alarm and a Ctrl-C): the
second, landing while mpsc finishes after the first, takes its place ... and the work is still
finished. ``complete`` and ``finish`` restart themselves when one lands inside them, and every
call of ``finish`` is guarded against one landing as it starts"; DESIGN "Every closing path calls
``_settle_locked`` inside its own ``try`` (a function's start is a check point: one outside the
``try`` would leave the side open for good)"; _endpoint docstring "the closing of the fds is
restartable and is finished when an exception lands in it. So an interrupt never leaves ... fds
open that nobody will close."

What happens: review 12/09's fix puts each closing path's ``_settle_locked()`` in a ``try`` whose
handler is ``raise complete(Endpoint._settle_locked, self, exc)``; the start of ``complete`` is
itself a check point outside any ``try`` (the send/receive paths guard it with a second
``try``: "as complete() started"; ``drop``, ``force_close``, ``leave``, ``drop_collected``
do not). A first interrupt inside ``_settle_locked`` (at its start, or after ``sock.close()``)
and a second as ``complete`` starts: ``close()`` raises, the handle is released
(``handles == 0``) but the fds are never closed: the peer never sees the disconnection, and
every such close leaks the side's fds (socket, credit pipe ends, ledger memfd). Every pair of
CPython check points of ``close()`` (real pending signal), unbounded/bounded/rendezvous, Sender
and Receiver. Pre-existing (``_settle_restarting`` had the same handler). Exit 1 if any pair
leaves the side open.
"""

import gc
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _pairs import Injected, disconnected, nfds, run, settle_fds  # noqa: E402

import mpsc.process as mpp  # noqa: E402


def scene(cap, side, targets):
    tx, rx = mpp.channel() if cap is None else mpp.sync_channel(cap)
    mine, peer = (tx, rx) if side == "tx" else (rx, tx)
    if side == "tx" and cap != 0:
        tx.send(1)
    ep = mine._ep
    hits, where, exc = run(mine.close, targets, Injected)
    gc.collect()
    problems = []
    if not disconnected(peer, side):
        problems.append(f"side never closed (handles={ep.handles} busy={ep.busy} closed={ep.closed} fds_closed={ep.fds_closed})")
    peer.close()
    return hits, where, problems


bad = 0
for cap in (None, 2, 0):
    for side in ("tx", "rx"):
        scene(cap, side, [])
        gc.collect()
        base = nfds()
        n = 1
        while scene(cap, side, [n])[0]:
            n += 1
        total = n - 1
        base = settle_fds(base)
        for a in range(1, total + 1):
            for m in range(1, 15):
                hits, where, pr = scene(cap, side, [a, a + m])
                if hits < 2:
                    break
                now = settle_fds(base)
                if now != base:
                    pr.append(f"{now - base} fds leaked")
                    base = now
                if pr:
                    bad += 1
                    print(f"cap={cap} {side}.close(): interrupts at points {a},{a + m} ({where.strip()}): {'; '.join(pr)}")
print("pairs leaving a side open:", bad)
sys.exit(1 if bad else 0)
