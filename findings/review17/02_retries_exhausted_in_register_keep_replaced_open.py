"""With 1 + ``_wire.RETRIES`` interrupts, the first inside ``Adoption.register``'s close of the
replaced handle and one at the start of each retry's ``register``, the endpoint the adoption
made (E1) stays open while the receive's exception lives: the message's retries run out,
``abandon`` calls ``Adoption.close``, which returns at once because ``handle`` is set and never
looks at ``replaced`` (5870863's new slot), so nothing closes E1's handle but the adoption's
collection (the adoption is held by the exception's traceback).

Promise: 5870863 ("an adoption keeps the handle it made until register closes it"; the
``replaced`` comment: "Kept until it is closed: a retry after an interrupt here finds it");
``Adoption.close``: "Close what was made, unless it was made whole"; review 16/04 (fixed in
5870863) is the same effect with two interrupts. Severity low: 4 interrupts, and the side is
released once the exception is freed (checked: "after freeing the exception: disconnected").

Scene: review 16/04's (a finalizer registers the same side inside the outer adoption, so that
``register`` moves). Interrupts at n, n+12, n+24, n+36 (M=4, K=12). Exit 1 if a first interrupt
inside the replaced handle's close (``_Handle.close`` / ``Endpoint.drop``) leaves the channel
connected, with the exception kept, after every reachable Sender is closed.

Checked (a copy of this script with ``Adoption.close`` monkeypatched to close ``replaced``
first): fds left drop from +16 to +11, but the channel still stays connected: the moved
``handle`` (on the registered endpoint E2, never given to anyone once the message counts as
unreadable) is not closed by ``abandon`` either ("made whole"), and holds E2 while the exception
lives. A fix needs both: ``abandon`` of an unreadable message closing ``replaced`` and the
never-delivered ``handle``.
"""

import gc, os, sys, time
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../review13"))
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
import faulthandler; faulthandler.dump_traceback_later(200, exit=True)
lo, hi = 185, 225
K, M = 12, 4
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
    if "no disconnect" in problems and where.split()[0].split(":")[0] in ("_Handle.close", "Endpoint.drop"):  # (a half-made Ledger in a kept frame holds its fd too: not counted)
        bad += 1
        print(n, hits, where, exc, problems, flush=True)
    if n and hits == 0:
        print("points:", n - 1); break
print("bad", bad)
sys.exit(1 if bad else 0)
