import sys, mpsc, mpsc.process as m
from mpsc.process import _implementation
left = [0]
def kbd_once(x):
    if left[0]:
        left[0] -= 1
        raise KeyboardInterrupt
    return x
class KbdOnce:
    def __init__(self, x): self.x = x
    def __reduce__(self): return (kbd_once, (self.x,))
def nop(): pass
res = []
for how in ("recv", "try_recv", "for"):
    for carry in (False, True):
        tx, rx = m.channel(); otx, orx = m.channel()
        left[0] = 1
        tx.send((KbdOnce(1), otx if carry else None))
        r = None
        exc = None
        try:
            if how == "for":
                for r in rx: break
            else:
                r = getattr(rx, how)()
            nop()
        except KeyboardInterrupt as e:
            exc = e
        res.append((how, carry, r is not None, exc is not None))
        print(how, "carrying" if carry else "plain", "value returned:", r is not None, "interrupt raised after:", exc is not None)
sys.exit(0 if all(a and b for _, _, a, b in res) else 1)
