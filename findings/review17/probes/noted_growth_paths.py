import sys, threading, mpsc, mpsc.process as mpp
from mpsc.process import _endpoint, _implementation
print(_implementation.in_use())
ctx, crx = mpp.channel()
N=2000
res = {}
def count(name):
    res[name] = len(_endpoint._noted)
# full bounded buffer
tx, rx = mpp.sync_channel(1)
tx.send(0)
for i in range(N):
    try: tx.try_send(ctx)
    except Exception as e: pass
count("try_send full")
# disconnected
rx.close()
for i in range(N):
    try: tx.send(ctx)
    except Exception as e: pass
count("send disconnected")
tx.close()
# unpicklable after handle
tx, rx = mpp.channel()
for i in range(N):
    try: tx.send([ctx, lambda: 0])
    except Exception as e: pass
count("unpicklable after")
class Boom:
    def __reduce__(self): raise KeyboardInterrupt
for i in range(N):
    try: tx.send([ctx, Boom()])
    except BaseException as e: pass
count("KI after")
# large with handle
big = b"x"*200000
for i in range(200):
    tx.send([ctx, big]); rx.recv()[0].close()
count("large")
# rendezvous
z, zr = mpp.sync_channel(0)
def recv():
    for i in range(200): zr.recv()[0].close()
t = threading.Thread(target=recv); t.start()
for i in range(200): z.send([ctx])
t.join()
count("rendezvous")
for i in range(200):
    try: z.send_timeout([ctx], 0.001)
    except Exception: pass
count("rendezvous timeout")
# closed handle inside user catch
class Catch:
    def __init__(self, h): self.h = h
    def __reduce__(self):
        try:
            import pickle
            return (list, ([self.h],))
        except Exception: return (int, ())
# a second sender in a message, its endpoint closed concurrently: skip
# select send
try:
    sel = mpsc.Select if hasattr(mpsc,'Select') else None
except Exception: sel=None
print(res)
bad = {k:v for k,v in res.items() if v}
print("nonzero:", bad)
for fds in _endpoint._noted.values(): print(fds)
sys.exit(1 if bad else 0)
