"""Probe (free-threaded): many threads drop clones of one Sender at once (finalizers race for the
endpoint's lock; the losers go to the reaper); every round the receiver must see the end."""
import sys, threading, time, gc
import mpsc, mpsc.process as mpp
from mpsc.process import _endpoint

ROUNDS = 150
THREADS = 6
bad = 0
for r in range(ROUNDS):
    tx, rx = mpp.channel()
    clones = [[tx.clone() for _ in range(20)] for _ in range(THREADS)]
    del tx
    barrier = threading.Barrier(THREADS)
    def drop(lst):
        barrier.wait()
        while lst:
            lst.pop()  # the clone's finalizer runs here
    ts = [threading.Thread(target=drop, args=(c,)) for c in clones]
    for t in ts: t.start()
    for t in ts: t.join()
    del clones
    t0 = time.monotonic()
    try:
        rx.recv_timeout(1.0)
        print("value?!")
    except mpsc.RecvError:
        pass
    except mpsc.Timeout:
        bad += 1
        print(f"round {r}: no end of stream; pending={len(_endpoint._reaper.pending)}", flush=True)
    rx.close()
print("rounds without the end:", bad, "gil:", getattr(sys, "_is_gil_enabled", lambda: True)())
sys.exit(1 if bad else 0)
