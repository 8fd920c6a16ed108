import gc, os, sys
import mpsc, mpsc.process as mp
from mpsc.process import _implementation as impl
print("impl", impl.in_use())
tx1, rx1 = mp.channel()
tx2, rx2 = mp.channel()
big = b"B" * 200_000
seen = []
class Bomb:
    def __init__(self): self.me = self
    def __del__(self):
        try:
            seen.append(rx2.try_recv())
        except Exception as e:
            seen.append(e)
tx1.send(big)
tx2.send("small-" + "s" * 40)
Bomb()
old = gc.get_threshold()
gc.set_threshold(1)
try:
    v = rx1.recv()
    ok = v == big
    print("got", type(v), len(v) if hasattr(v, "__len__") else v, ok)
except BaseException as e:
    ok = False
    print("recv raised", type(e).__name__, e)
finally:
    gc.set_threshold(*old)
print("del saw", seen)
