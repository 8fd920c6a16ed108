"""Probe: fd and memory growth over error paths of bounded/unbounded compiled steps."""
import gc, os, sys, resource
import mpsc, mpsc.process as mp

class Boom(Exception): pass
def boom(*a): raise Boom("unpickle")
class BadLoad:
    def __init__(self, pad=b""): self.pad = pad
    def __reduce__(self): return (boom, (self.pad,))
class BadDump:
    def __reduce__(self): raise Boom("dump")
class AttrDump:
    def __reduce__(self): raise AttributeError("attr")

def fds(): return len(os.listdir("/proc/self/fd"))
def rss(): return int(open("/proc/self/statm").read().split()[1]) * 4096

def cycle(cap):
    tx, rx = mp.sync_channel(cap) if cap else mp.channel()
    for v in (BadLoad(), BadLoad(b"x" * 100000)):
        tx.send(v)
        try: rx.recv(); print("no error?")
        except Boom: pass
    for v in (BadDump(), AttrDump()):
        try: tx.send(v)
        except Exception: pass
    if cap:
        for i in range(cap): tx.send(b"y" * 100000)
        try: tx.try_send(b"z" * 100000)
        except mpsc.Full: pass
        for i in range(cap): rx.recv()
    # handle inside a value
    t2, r2 = mp.sync_channel(1) if cap else mp.channel()
    tx.send(t2); got = rx.recv(); got.close(); t2.close(); r2.close()
    rx.close()
    try: tx.send(1)
    except mpsc.SendError: pass
    try: tx.send(b"q" * 100000)
    except mpsc.SendError: pass
    tx.close()

for cap in (None, 1, 3):
    for i in range(200): cycle(cap)
    gc.collect()
    f0, m0 = fds(), rss()
    for i in range(2000): cycle(cap)
    gc.collect()
    f1, m1 = fds(), rss()
    print(f"cap={cap} pure={os.environ.get('MPSC_PURE')} fds {f0}->{f1} rss {m0>>10}K->{m1>>10}K")
