import gc, os, sys
import mpsc, mpsc.process as mp
from mpsc.process import _implementation as impl
print("impl", impl.in_use())
tx1, rx1 = mp.channel()
tx2, rx2 = mp.channel()
big = b"B" * 200_000
seen = []
for i in range(2000):
    tx2.send(("small", i, "s" * 40))
def cb(phase, info):
    if phase == "stop":
        try:
            seen.append(rx2.try_recv())
        except mpsc.Empty:
            pass
N = 20
for i in range(N):
    tx1.send(big)
bad = 0
gc.callbacks.append(cb)
old = gc.get_threshold()
gc.set_threshold(1)
try:
    for i in range(N):
        try:
            keep = [[] for _ in range(300)]
            v = rx1.recv()
            del keep
            if v != big:
                bad += 1; print("wrong value", type(v), repr(v)[:80])
        except BaseException as e:
            bad += 1; print("recv raised", type(e).__name__, str(e)[:200])
finally:
    gc.set_threshold(*old)
    gc.callbacks.remove(cb)
print("callback received", len(seen), "bad", bad)
