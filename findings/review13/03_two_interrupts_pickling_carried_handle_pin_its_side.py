"""Two interrupts in a send carrying a handle, the second as ``complete`` starts in
``Endpoint.using``, leave the carried handle's endpoint ``busy`` for good: its side is never
closed, even after every handle of it is closed (the carried channel never disconnects; its
fds stay open for the life of the process).

Promise: DESIGN.md §5 "two interrupts close together ... the second ... takes its place ... and
the work is still finished. ``complete`` and ``finish`` restart themselves when one lands inside
them"; _endpoint.Endpoint.using "the endpoint is left whatever exception lands, even at the start
of ``leave``"; DESIGN "No fd is closed under a call that uses it ... else the last call to leave
does" (here nobody ever leaves); DESIGN §process "Tested at every pair of check points of a send".

What happens: ``tx.send(("h", otx))`` pickles ``otx`` through ``reduce_handle`` →
``endpoint.using(_duplicate_into, ...)``: ``try: enter; fn() except BaseException as exc: raise
complete(self.leave, use, exc)``. A first interrupt in ``_duplicate_into``/``Endpoint.fds``
(the send then raises: nothing sent, correct) and a second at the start of ``complete`` (a
check point outside any ``try``): ``leave`` never runs, ``busy`` stays 1. After ``otx.close()``
the endpoint has ``handles=0, closed=True, busy=1``: ``orx.recv`` waits for ever instead of
raising ``RecvError``, 4 fds leak per occurrence (bounded channel). Every pair of check points
of the send (real pending signal), pure and compiled. Pre-existing (same code on 4633a47).
Exit 1 if any pair leaves the carried side open.
"""

import gc
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _pairs import Injected, disconnected, nfds, run, settle_fds  # noqa: E402

import mpsc  # noqa: E402
import mpsc.process as mpp  # noqa: E402
from mpsc.process import _implementation  # noqa: E402

print("implementation:", _implementation.in_use())


def scene(targets):
    tx, rx = mpp.channel()
    otx, orx = mpp.sync_channel(2)
    ep = otx._ep
    hits, where, exc = run(lambda: tx.send(("h", otx)), targets, Injected)
    otx.close()
    got = []
    while True:
        try:
            got.append(rx.try_recv())
        except (mpsc.Empty, mpsc.RecvError):
            break
    problems = []
    if len(got) > 1 or (exc is None and not got):
        problems.append(f"{len(got)} messages received, send raised {exc!r}")
    for g in got:
        g[1].close()
    del got
    gc.collect()
    if not disconnected(orx, "tx"):
        problems.append(f"carried channel never disconnects (handles={ep.handles} busy={ep.busy} closed={ep.closed})")
    for h in (tx, rx, orx):
        h.close()
    return hits, where, problems


scene([])
gc.collect()
base = nfds()
n = 1
while scene([n])[0]:
    n += 1
base = settle_fds(base)
bad = 0
for a in range(1, n):
    for m in range(1, 12):
        hits, where, pr = scene([a, a + m])
        if hits < 2:
            break
        now = settle_fds(base)
        if now != base:
            pr.append(f"{now - base} fds leaked")
            base = now
        if pr:
            bad += 1
            print(f"interrupts at points {a},{a + m} ({where.strip()}): {'; '.join(pr)}")
print("pairs leaving the carried side open:", bad)
sys.exit(1 if bad else 0)
