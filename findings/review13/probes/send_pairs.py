"""Probe: 2 interrupts at every pair of check points of a send carrying a handle (CAP of the
carried channel, CARRIER capacity); checks: the message arrives once (or the send raised and none
arrived), the carried side disconnects once every handle is closed, fds back."""
import gc, os, sys, time
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from _pairs import run, disconnected, settle_fds, nfds, Injected, InjectedError
import mpsc, mpsc.process as mpp
CAP = os.environ.get("CAP", "2"); CARRIER = os.environ.get("CARRIER", "none")
KIND = Injected if os.environ.get("EXC", "kbd") == "kbd" else InjectedError
def mk(c):
    return mpp.channel() if c == "none" else mpp.sync_channel(int(c))
def scene(t):
    tx, rx = mk(CARRIER); otx, orx = mk(CAP); ep = otx._ep
    hits, where, exc = run(lambda: tx.send(("h", otx)), t, KIND)
    otx.close()
    got = []
    while True:
        try: got.append(rx.try_recv())
        except (mpsc.Empty, mpsc.RecvError): break
    pr = []
    if len(got) > 1: pr.append(("dup", len(got)))
    if exc is None and len(got) != 1: pr.append(("lost", exc))
    for g in got: g[1].close()
    del got
    gc.collect()
    if not disconnected(orx, "tx"): pr.append(("carried channel never disconnects", ep.handles, ep.busy, ep.closed))
    for h in (tx, rx, orx): h.close()
    return hits, where, pr
scene([]); scene([]); gc.collect(); base = nfds()
n = 1
while scene([n])[0]: n += 1
total = n - 1
print("points", total, flush=True)
bad = runs = 0
for a in range(1, total + 1):
    for m in range(0, int(os.environ.get("MMAX", "20")) + 1):
        t = [a] if m == 0 else [a, a + m]
        hits, where, pr = scene(t)
        if hits < len(t): break
        runs += 1
        now = settle_fds(base)
        if now != base: pr.append(("fds", base, now)); base = now
        if pr:
            bad += 1
            if bad <= 10: print("BAD", t, where, pr, flush=True)
print("runs", runs, "bad", bad); sys.exit(1 if bad else 0)
