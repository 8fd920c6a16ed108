"""Two interrupts in an adoption's move (``Adoption.register``: a finalizer's adoption inside it
registered the side first) leave the endpoint the adoption made open, with its fds, for as long
as the exception the caller got is alive: the retry "changes nothing", and nothing else closes
the handle it made. The channel stays connected although every handle anyone can reach is closed.

Promise: ``Adoption.register`` (087bd36): "moves its handle there and closes its own, in one step
under the lock ... Restartable: once moved, ``handle`` is on the registered endpoint, and
registering it again changes nothing"; README "Clones within one process share one endpoint";
DESIGN §5: an interrupted call either happens or not, and leaves nothing half-done.

What happens: review 13/08's scene (a collection inside the outer adoption runs a finalizer that
receives a Sender of the same side, which registers E2). The outer adoption made E1 and its
handle ``made``; ``register`` stores the new handle on E2 into ``self.handle`` and then calls
``made.close()``. A first interrupt between the two (or as ``close`` starts) and a second in the
settle's handling of it (``_unpickling_failed``): the retry of the message's unpickling finds
``adoption.handle`` set and calls ``register`` again, which takes the E2 handle as ``made`` and
closes nothing. (A first interrupt as ``new_handle`` on E2 ends leaves that new E2 handle the
same way: E2 counts a handle only the traceback holds.) E1's only handle is a local of the interrupted frame, held by the exception's
traceback: E1 (5 fds, its side) lives as long as the exception (caught and kept, logged with
its traceback, or in a reference cycle until a collection). Single interrupts at the same points
leave nothing (control). Run: second interrupt 2 points after the first, over the adoption's
points; exit 1 if, with the exception kept, the channel stays connected after every reachable
Sender is closed. (Control: ``probes/adopt_nested_points.py`` with K=0, single interrupts, the
exception kept as well: none. With the exception freed, E1 is collected and closes: Low.)
"""

import gc, os, sys, time
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../review13"))
from _pairs import run, nfds, disconnected, settle_fds  # noqa: E402
import mpsc
import mpsc.process as mpp
from mpsc.process import _endpoint

INIT = _endpoint.Endpoint.__init__
ST = [None]
def _init(self, *a, **k):
    st = ST[0]
    if st is not None and not st["done"]:
        st["done"] = True
        gc.collect()  # a collection started by an allocation of the adoption
    INIT(self, *a, **k)
_endpoint.Endpoint.__init__ = _init
import faulthandler; faulthandler.dump_traceback_later(250, exit=True)
lo, hi = (int(sys.argv[1]), int(sys.argv[2])) if len(sys.argv) > 2 else (120, 400)
K = int(os.environ.get("K", "2")); M = int(os.environ.get("M", "4"))
bad = 0
for n in range(lo, hi):
    gc.collect(); time.sleep(0.01); gc.collect(); base = nfds()
    k1tx, k1rx = mpp.channel(); k2tx, k2rx = mpp.channel(); otx, orx = mpp.sync_channel(2)
    k1tx.send(("outer", otx)); k2tx.send(("inner", otx)); otx.close(); del otx
    inner = []
    class F:
        def __init__(self): self.me = self
        def __del__(self):
            try:
                inner.append(k2rx.try_recv())
            except BaseException as e:
                inner.append(("exc", e))
    st = {"done": False}
    got = []
    def fn():
        got.append(k1rx.recv_timeout(2))
    gc.disable(); F(); ST[0] = st
    try:
        hits, where, exc = run(fn, [n + i * K for i in range(M)] if n else [])
    finally:
        ST[0] = None; gc.enable()
    kept = exc  # the exception, kept by the caller (its traceback holds frames)
    exc = type(exc).__name__ if exc is not None else None
    if not got:
        try:
            got.append(k1rx.try_recv())
        except Exception as e:
            got.append(("none", e))
    gc.collect()
    if not any(isinstance(x, tuple) and len(x) == 2 and isinstance(x[1], mpp.Sender) for x in inner):
        try: inner.append(k2rx.try_recv())
        except Exception as e: inner.append(("none", e))
    hs = [x[1] for x in (got + inner) if isinstance(x, tuple) and len(x) == 2 and isinstance(x[1], mpp.Sender)]
    eps = {id(h._ep) for h in hs}
    for h in hs: h.close()
    del hs, got, inner, F
    gc.collect(); time.sleep(0.02); gc.collect()
    for h in (k1tx, k1rx, k2tx, k2rx): h.close()
    gc.collect()
    disc = disconnected(orx, "tx", 0.5)
    problems = []
    if len(eps) > 1: problems.append(f"{len(eps)} endpoints")
    if not disc: problems.append("no disconnect")
    for h in (k1tx, k1rx, k2tx, k2rx): h.close()
    orx2 = orx
    if settle_fds(base) != base: problems.append(f'fds {nfds() - base:+d}')
    del kept
    gc.collect(); time.sleep(0.05); gc.collect()
    if not disc:
        problems.append("after freeing the exception: " + ("disconnected" if disconnected(orx2, "tx", 0.5) else "STILL CONNECTED"))
    orx2.close()
    print("n", n, hits, where, problems, flush=True) if os.environ.get("V") or problems else None
    if "no disconnect" in problems:  # (a half-made Ledger in a kept frame holds its fd too: not counted)
        bad += 1
        print(n, hits, where, exc, problems, flush=True)
    if n and hits == 0:
        print("points:", n - 1); break
print("bad", bad)
sys.exit(1 if bad else 0)
