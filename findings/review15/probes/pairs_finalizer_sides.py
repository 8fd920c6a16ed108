"""Probe: review 13/04's pairs of interrupts in a collected handle's finalizer, for a Receiver
of a ring channel and for both sides of a bounded channel, lock free and held."""
import gc, os, sys, threading
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../review13"))
from _pairs import Injected, disconnected, run  # noqa: E402
import mpsc.process as mpp  # noqa: E402

def scene(kind, side, held, targets):
    tx, rx = mpp.channel() if kind == "unbounded" else mpp.bounded(4)
    victim, peer = (tx, rx) if side == "tx" else (rx, tx)
    ep = victim._ep
    holder = [victim]
    del tx, rx, victim
    stop, got = threading.Event(), threading.Event()
    if held:
        def hold():
            with ep.lock:
                got.set(); stop.wait(5)
        th = threading.Thread(target=hold); th.start(); got.wait(5)
    hits, where, exc = run(holder.clear, targets, Injected)
    if held:
        stop.set(); th.join(5)
    del exc
    gc.collect()
    pr = [] if disconnected(peer, side, 0.5) else [f"never released (handles={ep.handles} closed={ep.closed})"]
    peer.close()
    return hits, where, pr

bad = 0
for kind in ("unbounded", "bounded"):
    for side in ("tx", "rx"):
        for held in (False, True):
            n = 1
            while scene(kind, side, held, [n])[0]:
                n += 1
            for a in range(2, n):
                for m in range(1, 12):
                    hits, where, pr = scene(kind, side, held, [a, a + m])
                    if hits < 2:
                        break
                    if pr:
                        bad += 1
                        print(f"{kind} {side} lock {'held' if held else 'free'}: {a},{a+m} ({where.strip()}): {pr[0]}", flush=True)
            print(kind, side, "held" if held else "free", "points", n - 1, flush=True)
print("pairs releasing nothing:", bad)
sys.exit(1 if bad else 0)
