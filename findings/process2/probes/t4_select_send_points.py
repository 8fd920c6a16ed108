"""Every pair of check points of mpsc.select over a process (Sender, value) op (+ a thread channel op)."""
import sys, os, gc
sys.path.insert(0, "tests")
import mpsc, mpsc.process as mpp
from checkpoints import NOT_RETURNED, SignalInjector, every_two_points, Injected

def drain(rx):
    got = []
    while True:
        try: got.append(rx.try_recv())
        except (mpsc.Empty, mpsc.RecvError): return got

bad = []
def make_scene(cap, mixed, kind):
    def scene(n, m):
        tx, rx = mpp.channel() if cap is None else mpp.sync_channel(cap)
        ttx, trx = mpsc.sync_channel(1)
        ttx.send("t")  # thread op not ready unless kind=='recv'
        inj = SignalInjector(n, m)
        if kind == "send":
            ops = [(tx, "v")] + ([(ttx, "w")] if mixed else [])
        else:
            tx.send("v")
            ops = [rx] + ([trx] if mixed else [])
        hook, sys.unraisablehook = sys.unraisablehook, (lambda *a: None)
        try:
            result, exc = inj.call(lambda: mpsc.select(*ops, timeout=2))
        finally:
            sys.unraisablehook = hook
        if exc is not None and not isinstance(exc, Injected):
            bad.append((cap, mixed, kind, n, m, inj.where, "raised", repr(exc)))
        if kind == "send":
            got = drain(rx); tgot = drain(trx)
            want = ["v"] if (result is not NOT_RETURNED and result[0] == 0) else []
            if got != want:
                bad.append((cap, mixed, kind, n, m, inj.where, result, got, len(inj.raised), repr(exc)))
        else:
            got = drain(rx); tgot = drain(trx)
            allv = got + tgot + ([result[1]] if result is not NOT_RETURNED else [])
            if sorted(allv) != sorted(["v", "t"]):
                bad.append((cap, mixed, kind, n, m, inj.where, result, got, tgot, len(inj.raised), repr(exc)))
        if tx._ep.busy or rx._ep.busy:
            bad.append((cap, mixed, kind, n, m, inj.where, "endpoint busy"))
        for h in (tx, rx, ttx, trx): h.close()
        return len(inj.raised)
    return scene

total = 0
for kind in ("send", "recv"):
    for cap in (None, 2):
        for mixed in (False, True):
            total += every_two_points(make_scene(cap, mixed, kind))
print("pairs", total, "bad", len(bad))
import collections
c = collections.Counter((b[0], b[1], b[2], b[-2]) for b in bad)
for k, v in sorted(c.items(), key=str): print(k, v)
seen = set()
for b in bad:
    k = (b[2], b[-2], b[6] is NOT_RETURNED, str(b[7]))
    if k not in seen:
        seen.add(k); print(k, b)
sys.exit(1 if bad else 0)
