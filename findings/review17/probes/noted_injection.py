"""Probe (review 17): one or two interrupts (K apart; env K, CAP) at each check point of a send carrying a handle; counts _endpoint._noted entries left and non-empty ones. Result: none with single interrupts; with pairs (pure only) 6-8 entries left, all empty (the documented case)."""
import gc, os, sys, time
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../review13"))
from _pairs import run
import mpsc, mpsc.process as mpp
from mpsc.process import _endpoint, _implementation
import faulthandler; faulthandler.dump_traceback_later(250, exit=True)
print(_implementation.in_use())
K = int(os.environ.get("K", "0"))
CAP = os.environ.get("CAP", "none")
ctx, crx = mpp.channel()
tx, rx = (mpp.channel() if CAP == "none" else mpp.sync_channel(int(CAP)))
stale = []; nonempty = []
for n in range(1, 600):
    before = len(_endpoint._noted)
    hits, where, exc = run(lambda: tx.send([ctx, 1]), [n] + ([n + K] if K else []))
    while True:
        try:
            m = rx.try_recv()
        except Exception:
            break
        m[0].close()
    gc.collect()
    after = len(_endpoint._noted)
    if after > before:
        stale.append((n, where))
    for v in _endpoint._noted.values():
        if v:
            nonempty.append((n, where, list(v)))
    if hits == 0:
        print("points:", n - 1); break
print("stale entries:", len(_endpoint._noted), stale[:10])
print("non-empty:", nonempty[:10])
sys.exit(1 if stale or nonempty else 0)
