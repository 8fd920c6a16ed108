import os, sys, pickle
import mpsc, mpsc.process as m
from mpsc.process import _implementation
out = []
calls = {}
def make(kind, n):
    return Nasty(kind, n)
state = {}
def rebuild(kind, n):
    calls[kind] = calls.get(kind, 0) + 1
    c = calls[kind]
    if kind == "sysexit_always": raise SystemExit(3)
    if kind == "sysexit_once" and c == 1: raise SystemExit(3)
    if kind == "genexit_once" and c == 1: raise GeneratorExit()
    if kind == "kbd_once" and c == 1: raise KeyboardInterrupt()
    if kind == "kbd_always": raise KeyboardInterrupt()
    if kind == "stopiter": raise StopIteration()
    if kind == "recv_same":
        return ("inner", state["rx"].try_recv())
    if kind == "send_same":
        state["tx"].send(("sent-by-unpickling", n))
    if kind == "close_rx":
        state["rx"].close()
    if kind == "baseexc_sub" and c == 1: raise MyBase()
    return (kind, n)
class MyBase(BaseException): pass
class Nasty:
    def __init__(self, kind, n): self.kind, self.n = kind, n
    def __reduce__(self): return (rebuild, (self.kind, self.n))
def nop(): pass
kinds = ["sysexit_always", "sysexit_once", "genexit_once", "kbd_once", "kbd_always", "stopiter", "recv_same", "send_same", "baseexc_sub", "close_rx"]
for large in (False, True):
    for how in ("recv", "try_recv", "for"):
        for kind in kinds:
            calls.clear()
            tx, rx = m.channel()
            state["tx"], state["rx"] = tx, rx
            v = Nasty(kind, 1)
            tx.send((v, b"L" * 70000) if large else v)
            for k in range(2, 8):
                tx.send(("after", k))
            res = []
            for attempt in range(3):
                r = None
                try:
                    if how == "for":
                        for r in rx:
                            break
                    else:
                        for r in map(getattr(rx, how), ()):
                            pass
                        r = getattr(rx, how)()
                    nop()
                    res.append(("ok", repr(r)[:40]))
                except BaseException as e:
                    res.append((type(e).__name__, repr(r)[:40]))
                if rx._ep is None: break
            out.append((large, how, kind, res, dict(calls)))
            tx.close(); rx.close()
for o in out: print(o)
