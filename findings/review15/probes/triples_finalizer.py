"""Probe: three interrupts (real pending signal) at every triple of check points of a collected
Sender's finalizer, lock free and held (review 13/04's scene, one more interrupt)."""
import gc, os, sys, threading, itertools
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../review13"))
from _pairs import Injected, disconnected, run  # noqa: E402
import mpsc.process as mpp  # noqa: E402
from mpsc.process import _endpoint  # noqa: E402

def scene(held, targets):
    tx, rx = mpp.channel()
    ep = tx._ep
    holder = [tx]
    del tx
    stop, got = threading.Event(), threading.Event()
    if held:
        def hold():
            with ep.lock:
                got.set()
                stop.wait(5)
        th = threading.Thread(target=hold); th.start(); got.wait(5)
    hits, where, exc = run(holder.clear, targets, Injected)
    if held:
        stop.set(); th.join(5)
    del exc
    gc.collect()
    problems = []
    if not disconnected(rx, "tx", 0.5):
        problems.append(f"Sender never released (handles={ep.handles} closed={ep.closed} pending={len(_endpoint._reaper.pending)})")
    rx.close()
    return hits, where, problems

bad = 0
tried = 0
for held in (False, True):
    n = 1
    while scene(held, [n])[0]:
        n += 1
    print("held" if held else "free", "points:", n - 1, flush=True)
    for a in range(2, n):
        for m in range(1, 10):
            for k in range(1, 10):
                hits, where, pr = scene(held, [a, a + m, a + m + k])
                tried += 1
                if hits < 3:
                    break
                if pr:
                    bad += 1
                    print(f"lock {'held' if held else 'free'}: {a},{a+m},{a+m+k} ({where.strip()}): {pr[0]}", flush=True)
print("triples tried", tried, "releasing nothing:", bad)
sys.exit(1 if bad else 0)
