"""Probe (run: PYTHONPATH=src python findings/review16/probes/adopt_nested_points.py 0 400): review13/08's scene (a finalizer adopting the same side inside an adoption, so that
Adoption.register takes its move path) with one real interrupt at each check point n of the
outer receive. Checks: one endpoint, channel disconnects once every handle is closed, no fd left."""
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
lo, hi = int(sys.argv[1]), int(sys.argv[2])
K = int(os.environ.get("K", "0"))  # a second interrupt K points after the first
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
        hits, where, exc = run(fn, ([n] + ([n + K] if K else [])) if n else [])
    finally:
        ST[0] = None; gc.enable()
    exc = type(exc).__name__ if exc is not None else None  # (its traceback would hold frames)
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
    for h in (k1tx, k1rx, k2tx, k2rx, orx): h.close()
    if settle_fds(base) != base: problems.append(f'fds {nfds() - base:+d}')
    print("n", n, hits, where, problems, flush=True) if os.environ.get("V") or problems else None
    if problems:
        bad += 1
        print(n, hits, where, exc, problems, flush=True)
    if n and hits == 0:
        print("points:", n - 1); break
print("bad", bad)
sys.exit(1 if bad else 0)
