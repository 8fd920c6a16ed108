import sys, mpsc, mpsc.process as m
from mpsc.process import _implementation as I
def rebuild(kind):
    raise {"RecvError": mpsc.RecvError(), "Empty": mpsc.Empty(), "Closed": mpsc.ClosedHandleError("x")}[kind]
class V:
    def __init__(self, k): self.k = k
    def __reduce__(self): return (rebuild, (self.k,))
for large in (False, True):
    for kind in ("RecvError", "Empty", "Closed"):
        tx, rx = m.channel()
        tx.send((V(kind), b"L" * 70000) if large else V(kind))
        tx.send("next")
        got = []
        try:
            for v in rx:
                got.append(v)
                break
            else:
                got.append("(loop ended)")
        except Exception as e:
            got.append(type(e).__name__)
        if not got: got.append("(loop ended)")
        print(I.in_use(), "large" if large else "small", kind, "-> for loop:", got)
