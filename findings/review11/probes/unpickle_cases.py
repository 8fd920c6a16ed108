"""Probe: deterministic unpickling misbehaviour on bounded channels; print outcomes to diff
compiled vs MPSC_PURE=1."""
import os, sys, mpsc, mpsc.process as mp
from mpsc.process import _implementation as impl
state = {"n": 0}
class Boom(Exception): pass
def make(kind, pad, tag):
    state["n"] += 1
    if kind == "ki_once" and state["n"] == 1: raise KeyboardInterrupt
    if kind == "ki_always": raise KeyboardInterrupt
    if kind == "exc": raise Boom
    if kind == "close": CUR[0].close()
    if kind == "recv_same":
        try: return (tag, CUR[0].try_recv())
        except Exception as e: return (tag, type(e).__name__)
    return tag
class V:
    def __init__(self, kind, pad, tag): self.a = (kind, pad, tag)
    def __reduce__(self): return (make, self.a)
CUR = [None]
out = []
for big in (False, True):
    for kind in ("ki_once", "ki_always", "exc", "close", "recv_same"):
        for cap in (1, 2):
            tx, rx = mp.sync_channel(cap)
            rx2 = rx.clone()
            CUR[0] = rx
            state["n"] = 0
            pad = b"x" * (100000 if big else 10)
            tx.send(V(kind, pad, "v"))
            if cap > 1: tx.send("next")
            res = []
            for _ in range(3):
                try:
                    res.append(repr(rx.try_recv()))
                except BaseException as e:
                    res.append(type(e).__name__)
            try: n = len(rx2)
            except Exception as e: n = type(e).__name__
            rest = []
            while True:
                try: rest.append(rx2.try_recv())
                except mpsc.Empty: break
                except BaseException as e: rest.append(type(e).__name__); break
            k = 0
            while k < cap + 2:
                try: tx.try_send(k); k += 1
                except mpsc.Full: break
            out.append(f"big={big} kind={kind} cap={cap}: recvs={res} len={n} rest={rest} unpickles={state['n']} capacity_seen={k}")
print(impl.in_use()); print("\n".join(out))
