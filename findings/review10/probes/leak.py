import gc, os, sys, tracemalloc, pickle
import mpsc, mpsc.process as m

def nfds(): return len(os.listdir("/proc/self/fd"))

class Bad:
    def __reduce__(self): raise TypeError("no")
class AttrBad:
    def __reduce__(self): raise AttributeError("no")
def boom(x): raise ValueError(x)
class UnBad:
    def __init__(self, x): self.x = x
    def __reduce__(self): return (boom, (self.x,))
kbd_left = [0]
def kbd_once(x):
    if kbd_left[0]:
        kbd_left[0] -= 1
        raise KeyboardInterrupt
    return x
class KbdOnce:
    def __init__(self, x): self.x = x
    def __reduce__(self): return (kbd_once, (self.x,))

tx, rx = m.channel()
otx, orx = m.channel()
dtx, drx = m.channel(); drx.close()
ctx_, crx = m.channel(); ctx_closed = ctx_.clone(); ctx_closed.close()

def s_small(i): tx.send(i); rx.recv()
def s_large(i): tx.send(b"x" * 70000); rx.try_recv()
def s_handle(i): tx.send(otx); rx.recv().close()
def s_unpicklable(i):
    try: tx.send(Bad())
    except TypeError: pass
def s_attr(i):
    try: tx.send(AttrBad())
    except pickle.PicklingError: pass
def s_unpickle_err(i):
    tx.send(UnBad(i))
    try: rx.recv()
    except ValueError: pass
def s_kbd(i):
    kbd_left[0] = 1
    tx.send(KbdOnce(i))
    try:
        v = rx.recv()
        nop()
    except KeyboardInterrupt:
        pass
def s_disconnected(i):
    try: dtx.send(i)
    except mpsc.SendError: pass
def s_closed(i):
    try: ctx_closed.send(i)
    except mpsc.ClosedHandleError: pass
    try: ctx_closed.try_send(i)
    except mpsc.ClosedHandleError: pass
def s_empty(i):
    try: rx.try_recv()
    except mpsc.Empty: pass
def s_iter(i):
    tx.send(i)
    for v in rx:
        break
def nop(): pass

tracemalloc.start()
bad = 0
for f in [s_small, s_large, s_handle, s_unpicklable, s_attr, s_unpickle_err, s_kbd, s_disconnected, s_closed, s_empty, s_iter]:
    for i in range(300): f(i)
    gc.collect()
    fd0, ob0 = nfds(), len(gc.get_objects()); m0 = tracemalloc.get_traced_memory()[0]
    for i in range(3000): f(i)
    gc.collect()
    fd1, ob1 = nfds(), len(gc.get_objects()); m1 = tracemalloc.get_traced_memory()[0]
    flag = fd1 != fd0 or ob1 - ob0 > 50 or m1 - m0 > 100_000
    bad += flag
    print(f"{f.__name__:16} fds {fd0}->{fd1} objects {ob0}->{ob1} traced {m0}->{m1} {'LEAK?' if flag else ''}")
sys.exit(1 if bad else 0)
